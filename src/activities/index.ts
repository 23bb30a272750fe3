import { createBackupActivities } from './backup';
import { createBlackoutActivities } from './blackout';
import { createInvariantActivities } from './cluster-invariants';
import { createDatabaseActivities } from './database';
import type { ActivityDeps } from './deps';
import { createHealthActivities } from './health';
import { createImageActivities } from './images';
import { createLoadBalancerActivities } from './load-balancer';
import { createMiddlewareActivities } from './middleware';
import { createNodeCommandActivities } from './node-commands';
import { createNodeImageActivities } from './node-images';
import { createNodeActivities } from './nodes';
import { createNotifyActivities } from './notify';
import { createStorageActivities } from './storage';
import { createHistoryActivities } from './procedure-history';

export type { ActivityDeps } from './deps';

/** Every activity the workflows call, bound to the given components. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createNodeActivities(deps),
    ...createNodeImageActivities(deps),
    ...createNodeCommandActivities(deps),
    ...createImageActivities(deps),
    ...createDatabaseActivities(deps),
    ...createBackupActivities(deps),
    ...createHealthActivities(deps),
    ...createLoadBalancerActivities(deps),
    ...createNotifyActivities(deps),
    ...createMiddlewareActivities(deps),
    ...createHistoryActivities(deps),
    ...createBlackoutActivities(deps),
    ...createInvariantActivities(deps),
    ...createStorageActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

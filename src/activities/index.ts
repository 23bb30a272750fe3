import { createBackupActivities } from './backup/database-backup';
import { createRetentionActivities } from './backup/retention';
import { createBlackoutActivities } from './cluster/blackout';
import { createDescribeActivities } from './cluster/describe';
import { createFleetActivities } from './cluster/fleet';
import { createInvariantActivities } from './cluster/invariants';
import { createLeftoverActivities } from './cluster/leftovers';
import { createDatabaseActivities } from './database/check-database';
import type { ActivityDeps } from './deps';
import { createHealthActivities } from './health/node-readiness';
import { createImageActivities } from './images/host-images';
import { createLoadBalancerActivities } from './load-balancer/load-balancer';
import { createMiddlewareActivities } from './middleware/restart';
import { createNodeCommandActivities } from './nodes/commands';
import { createNodeImageActivities } from './nodes/image-replacement';
import { createNodeActivities } from './nodes/lifecycle';
import { createRestartPolicyActivities } from './nodes/restart-policy';
import { createDecisionRequestActivities } from './notify/decision-request';
import { createNotifyActivities } from './notify/notification';
import { createStorageActivities } from './storage/storage-backup';
import { createHistoryActivities } from './history/procedure-history';

export type { ActivityDeps } from './deps';

/** Every activity the workflows call, bound to the given components. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDescribeActivities(deps),
    ...createNodeActivities(deps),
    ...createNodeImageActivities(deps),
    ...createNodeCommandActivities(deps),
    ...createRestartPolicyActivities(deps),
    ...createImageActivities(deps),
    ...createDatabaseActivities(deps),
    ...createBackupActivities(deps),
    ...createRetentionActivities(deps),
    ...createHealthActivities(deps),
    ...createLoadBalancerActivities(deps),
    ...createNotifyActivities(deps),
    ...createDecisionRequestActivities(deps),
    ...createMiddlewareActivities(deps),
    ...createHistoryActivities(deps),
    ...createBlackoutActivities(deps),
    ...createInvariantActivities(deps),
    ...createLeftoverActivities(deps),
    ...createStorageActivities(deps),
    ...createFleetActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

import { ApplicationFailure, log } from '@temporalio/activity';
import { isNotFound } from '../../adapters/docker/errors';
import { FailureType } from '../../common/failure-types';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';

export interface MiddlewareRestart {
  name: string;
  container: string;
  startedAt: string;
}

export function createMiddlewareActivities(deps: ActivityDeps) {
  return {
    /**
     * Restarts the cluster's middleware marked `restartDuringUpgrade` (Redis behind the cache,
     * pub/sub, lock and queue adapters), as NocoBase's v1 upgrade procedure says, so no node
     * finds state from the old version there. Called while every node is down. Safe to retry: a
     * second restart of a freshly started Redis changes nothing the cluster depends on.
     */
    async restartMiddleware(input: { cluster: string }): Promise<MiddlewareRestart[]> {
      const targets = getCluster(deps, input.cluster).middleware.filter((entry) => entry.restartDuringUpgrade);
      const restarted: MiddlewareRestart[] = [];
      for (const entry of targets) {
        const container = deps.docker(entry.dockerHost).getContainer(entry.container);
        try {
          await container.restart({ t: 10 });
          const info = await container.inspect();
          restarted.push({ name: entry.name, container: entry.container, startedAt: info.State.StartedAt });
          log.info('middleware restarted', { cluster: input.cluster, middleware: entry.name });
        } catch (error) {
          if (isNotFound(error)) {
            throw ApplicationFailure.nonRetryable(`middleware ${entry.name}: container ${entry.container} does not exist on ${entry.dockerHost}`, FailureType.Misconfigured);
          }
          throw error;
        }
      }
      return restarted;
    },
  };
}

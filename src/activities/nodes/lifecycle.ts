import { ApplicationFailure, log } from '@temporalio/activity';
import { startContainer, stopContainerUntilGone } from '../../adapters/docker/containers';
import { FailureType } from '../../common/failure-types';
import type { NodeSnapshot } from '../../common/procedure-types';
import { getCluster, getNode, snapshotNode } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';

export interface NodeRef {
  cluster: string;
  node: string;
}

export function createNodeActivities(deps: ActivityDeps) {
  return {
    /**
     * Starts a node's container (its only side effect). Idempotent and safe to retry: an already
     * running container is left as it is.
     */
    async startNode(input: NodeRef): Promise<NodeSnapshot> {
      const node = getNode(deps, input.cluster, input.node);
      if (!(await snapshotNode(deps, node)).running) {
        await startContainer(deps.docker(node.dockerHost), node.container);
        log.info('node started', { cluster: input.cluster, node: node.name, container: node.container });
      }
      return snapshotNode(deps, node);
    },

    /**
     * Stops a node's container gracefully: SIGTERM, then SIGKILL after `timeouts.nodeStop` (a node
     * that ignores SIGTERM is killed then), and returns only once Docker shows the container not
     * running with no process; one still running is killed and checked again, and if even that
     * fails the activity fails retryably (NodeNotStopped), so no later step runs beside a live
     * process. Idempotent and safe to retry: a stopped container stays stopped.
     */
    async stopNode(input: NodeRef): Promise<NodeSnapshot> {
      const cluster = getCluster(deps, input.cluster);
      const node = getNode(deps, input.cluster, input.node);
      if ((await snapshotNode(deps, node)).running) {
        const seconds = Math.ceil(cluster.timeouts.nodeStop / 1000);
        const outcome = await stopContainerUntilGone(deps.docker(node.dockerHost), node.container, seconds);
        if (!outcome.gone) {
          throw ApplicationFailure.retryable(
            `node ${node.name}: container ${node.container} is still ${outcome.status} (pid ${outcome.pid}) after SIGTERM, ${seconds}s and SIGKILL`,
            FailureType.NodeNotStopped,
            { node: node.name, ...outcome },
          );
        }
        if (outcome.killed) log.warn('node had to be killed after the stop', { cluster: input.cluster, node: node.name, container: node.container });
        log.info('node stopped', { cluster: input.cluster, node: node.name, container: node.container, killed: outcome.killed });
      }
      return snapshotNode(deps, node);
    },
  };
}

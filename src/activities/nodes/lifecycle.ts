import { ApplicationFailure, log } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import type { NodeSnapshot } from '../../common/procedure-types';
import { getCluster, getNode } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { nodesOf } from './factory';

export interface NodeRef {
  cluster: string;
  node: string;
}

export function createNodeActivities(deps: ActivityDeps) {
  return {
    /**
     * Starts a node (its only side effect): its container, or on Kubernetes its Deployment scaled
     * up to it. Idempotent and safe to retry: an already running node is left as it is.
     */
    async startNode(input: NodeRef): Promise<NodeSnapshot> {
      const node = getNode(deps, input.cluster, input.node);
      const nodes = nodesOf(deps, input.cluster);
      if (!(await nodes.snapshot(node)).running) {
        await nodes.start(node);
        log.info('node started', { cluster: input.cluster, node: node.name });
      }
      return nodes.snapshot(node);
    },

    /**
     * Stops a node gracefully: SIGTERM, then SIGKILL after `timeouts.nodeStop` (a node that ignores
     * SIGTERM is killed then), and returns only once nothing of it runs (Docker: the container not
     * running with no process; Kubernetes: its pod deleted, not merely terminating); one still
     * running is killed and checked again, and if even that fails the activity fails retryably
     * (NodeNotStopped), so no later step runs beside a live process. Idempotent and safe to retry.
     */
    async stopNode(input: NodeRef): Promise<NodeSnapshot> {
      const cluster = getCluster(deps, input.cluster);
      const node = getNode(deps, input.cluster, input.node);
      const nodes = nodesOf(deps, input.cluster);
      if ((await nodes.snapshot(node)).running) {
        const outcome = await nodes.stop(node, cluster.timeouts.nodeStop);
        if (!outcome.gone) {
          throw ApplicationFailure.retryable(
            `node ${node.name}: still ${outcome.status}${outcome.pid ? ` (pid ${outcome.pid})` : ''} after SIGTERM, ${Math.ceil(cluster.timeouts.nodeStop / 1000)}s and SIGKILL`,
            FailureType.NodeNotStopped,
            { node: node.name, ...outcome },
          );
        }
        if (outcome.killed) log.warn('node had to be killed after the stop', { cluster: input.cluster, node: node.name });
        log.info('node stopped', { cluster: input.cluster, node: node.name, killed: outcome.killed });
      }
      return nodes.snapshot(node);
    },
  };
}

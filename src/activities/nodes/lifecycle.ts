import { log } from '@temporalio/activity';
import { startContainer, stopContainer } from '../../adapters/docker/containers';
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
     * Stops a node's container gracefully (SIGTERM, then SIGKILL after the configured timeout).
     * Idempotent and safe to retry: a stopped container stays stopped.
     */
    async stopNode(input: NodeRef): Promise<NodeSnapshot> {
      const cluster = getCluster(deps, input.cluster);
      const node = getNode(deps, input.cluster, input.node);
      if ((await snapshotNode(deps, node)).running) {
        await stopContainer(deps.docker(node.dockerHost), node.container, Math.ceil(cluster.timeouts.nodeStop / 1000));
        log.info('node stopped', { cluster: input.cluster, node: node.name, container: node.container });
      }
      return snapshotNode(deps, node);
    },
  };
}

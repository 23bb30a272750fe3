import { log } from '@temporalio/activity';
import type { ClusterPlan, NodeSnapshot } from '../../common/procedure-types';
import type { NodeConfig } from '../../config/schema';
import { getCluster, getNode, inspectNode } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { isNotModified } from '../../adapters/docker/errors';

export interface NodeRef {
  cluster: string;
  node: string;
}

export function createNodeActivities(deps: ActivityDeps) {
  async function snapshot(node: NodeConfig): Promise<NodeSnapshot> {
    const info = await inspectNode(deps, node);
    return {
      name: node.name,
      container: node.container,
      image: info.Config.Image,
      imageId: info.Image,
      state: info.State.Status,
      running: info.State.Running,
    };
  }

  return {
    /**
     * Reads the cluster's definition and each node's container as Docker sees it now.
     * Read-only; safe to retry.
     */
    async describeCluster(input: { cluster: string }): Promise<ClusterPlan> {
      const cluster = getCluster(deps, input.cluster);
      const nodes = await Promise.all(cluster.nodes.map(snapshot));
      return {
        cluster: input.cluster,
        nodes,
        database: { host: cluster.database.host, port: cluster.database.port, database: cluster.database.database },
        loadBalancer: { backend: cluster.loadBalancer.backend, url: cluster.loadBalancer.url },
        recipients: cluster.notifications.recipients,
        approvers: cluster.approval.approvers,
        restartMiddleware: cluster.middleware.filter((entry) => entry.restartDuringUpgrade).map((entry) => entry.name),
      };
    },

    /** Starts a node's container. Idempotent: an already running container is left as it is. */
    async startNode(input: NodeRef): Promise<NodeSnapshot> {
      const node = getNode(deps, input.cluster, input.node);
      const before = await snapshot(node);
      if (!before.running) {
        try {
          await deps.docker(node.dockerHost).getContainer(node.container).start();
        } catch (error) {
          if (!isNotModified(error)) throw error;
        }
        log.info('node started', { cluster: input.cluster, node: node.name, container: node.container });
      }
      return snapshot(node);
    },

    /**
     * Stops a node's container gracefully (SIGTERM, then SIGKILL after the configured timeout).
     * Idempotent: a stopped container stays stopped.
     */
    async stopNode(input: NodeRef): Promise<NodeSnapshot> {
      const cluster = getCluster(deps, input.cluster);
      const node = getNode(deps, input.cluster, input.node);
      const before = await snapshot(node);
      if (before.running) {
        try {
          await deps.docker(node.dockerHost).getContainer(node.container).stop({ t: Math.ceil(cluster.timeouts.nodeStop / 1000) });
        } catch (error) {
          if (!isNotModified(error)) throw error;
        }
        log.info('node stopped', { cluster: input.cluster, node: node.name, container: node.container });
      }
      return snapshot(node);
    },
  };
}

import { appNodes, orderNodes } from '../../common/node-order';
import type { ClusterPlan } from '../../common/procedure-types';
import type { ActivityDeps } from '../deps';
import { approvalPolicyPlan, getCluster, snapshotNode } from './lookup';
import type { LoadBalancerConfig } from '../../config/schema';

export function createDescribeActivities(deps: ActivityDeps) {
  return {
    /**
     * Reads the cluster's definition and each node's container as Docker sees it now.
     * Read-only; safe to retry.
     */
    async describeCluster(input: { cluster: string }): Promise<ClusterPlan> {
      const cluster = getCluster(deps, input.cluster);
      const nodes = await Promise.all(cluster.nodes.map((node) => snapshotNode(deps, input.cluster, node)));
      // Only app nodes serve users, so only they count towards the quorum that gets traffic back.
      const apps = appNodes(orderNodes(cluster.nodes)).length;
      return {
        cluster: input.cluster,
        nodes,
        database: { host: cluster.database.host, port: cluster.database.port, database: cluster.database.database },
        // `backend`: HAProxy's backend, Nginx's upstream or the Kubernetes Service, whichever stands in front of the nodes.
        loadBalancer: { backend: backendName(cluster.loadBalancer), url: cluster.loadBalancer.url },
        recipients: cluster.notifications.recipients,
        approvers: cluster.approval.approvers,
        approvalPolicy: approvalPolicyPlan(deps, cluster),
        restartMiddleware: cluster.middleware.filter((entry) => entry.restartDuringUpgrade).map((entry) => entry.name),
        rollbackDeadlineMs: cluster.timeouts.rollback,
        rollbackQuorum: Math.min(cluster.rollback.quorum ?? Math.floor(apps / 2) + 1, apps),
      };
    },
  };
}

function backendName(config: LoadBalancerConfig): string {
  switch (config.kind) {
    case 'haproxy':
      return config.backend;
    case 'nginx':
      return config.upstream;
    case 'service':
      return config.service;
  }
}

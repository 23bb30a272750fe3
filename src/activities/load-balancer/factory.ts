import { roleOf } from '../../common/node-order';
import { getCluster, getNode, lbServerName } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { haproxySwitch } from './haproxy-switch';
import { nginxSwitch } from './nginx-switch';
import { serviceSwitch } from './service-switch';
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import { asKubernetesNode } from '../nodes/factory';
import type { SwitchServer, TrafficSwitch } from './traffic-switch';

/**
 * The one place that picks the traffic switch's adapter, from the cluster's `loadBalancer.kind`
 * (as flagger's pkg/router/factory.go does).
 */
export function trafficSwitch(deps: ActivityDeps, clusterName: string): TrafficSwitch {
  const cluster = getCluster(deps, clusterName);
  const config = cluster.loadBalancer;
  switch (config.kind) {
    case 'haproxy':
      return haproxySwitch(clusterName, config, deps.haproxy(config.runtimeApi));
    case 'service': {
      if (!cluster.kubernetes || !deps.kubernetes) {
        throw ApplicationFailure.nonRetryable(`cluster ${clusterName}: loadBalancer kind service needs the cluster's kubernetes: section`, FailureType.Misconfigured);
      }
      const apps = cluster.nodes.filter((node) => roleOf(node) === 'app').map(asKubernetesNode);
      return serviceSwitch(deps.kubernetes(clusterName), cluster.kubernetes.namespace, config, apps);
    }
    case 'nginx':
      return nginxSwitch(
        config,
        cluster.nodes.filter((node) => roleOf(node) === 'app').map((node) => ({ node, server: lbServerName(node) })),
      );
  }
}

/** The named nodes as the switch knows them (an unknown name is a configuration mistake, not retried). */
export function switchServers(deps: ActivityDeps, clusterName: string, nodes: readonly string[]): SwitchServer[] {
  return nodes.map((name) => {
    const node = getNode(deps, clusterName, name);
    return { node, server: lbServerName(node) };
  });
}

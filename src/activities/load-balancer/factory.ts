import { roleOf } from '../../common/node-order';
import { getCluster, getNode, lbServerName } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { haproxySwitch } from './haproxy-switch';
import { nginxSwitch } from './nginx-switch';
import type { SwitchServer, TrafficSwitch } from './traffic-switch';

/**
 * The one place that picks the traffic switch's adapter, from the cluster's `loadBalancer.kind`
 * (as flagger's pkg/router/factory.go does). A Kubernetes Service would be one more case here.
 */
export function trafficSwitch(deps: ActivityDeps, clusterName: string): TrafficSwitch {
  const cluster = getCluster(deps, clusterName);
  const config = cluster.loadBalancer;
  switch (config.kind) {
    case 'haproxy':
      return haproxySwitch(clusterName, config, deps.haproxy(config.runtimeApi));
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

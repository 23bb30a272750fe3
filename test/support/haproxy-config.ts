import type { ClusterConfig, HaproxyLoadBalancerConfig } from '../../src/config/schema';

/** The cluster's load balancer as HAProxy's config: these tests drive HAProxy, so another kind is a mistake in the test's setup. */
export function haproxyOf(cluster: ClusterConfig | undefined): HaproxyLoadBalancerConfig {
  const lb = cluster?.loadBalancer;
  if (lb?.kind !== 'haproxy') throw new Error(`expected a cluster behind HAProxy, got ${lb?.kind ?? 'no cluster'}`);
  return lb;
}

import { ApplicationFailure } from '@temporalio/activity';
import { probeStatus } from '../../adapters/nocobase/http-probes';
import { FailureType } from '../../common/failure-types';
import type { ClusterConfig } from '../../config/schema';
import { pollUntilDeadline, type Look } from '../activity-context';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { switchServers, trafficSwitch } from './factory';
import { createLoadBalancerHoldActivities } from './hold';
import type { ServerAdminState, ServerStatus } from './traffic-switch';

export type { ServerAdminState, ServerStatus } from './traffic-switch';
export type { HoldLoadBalancerInput, HoldLoadBalancerReport, LoadBalancerDrift } from './hold';

/**
 * The load balancer's part in a procedure: servers taken out of and put back into the cluster's
 * load balancer, and the site switched to the 503 maintenance page and back. The activities speak
 * the traffic switch port (traffic-switch.ts); factory.ts picks HAProxy (haproxy-switch.ts:
 * runtime API plus the files a reload reads) or Nginx (nginx-switch.ts: an include file and a
 * checked reload) from `loadBalancer.kind`. Every change lasts across a reload and a restart.
 */
export function createLoadBalancerActivities(deps: ActivityDeps) {
  function target(input: { cluster: string; nodes: string[] }) {
    return { cluster: getCluster(deps, input.cluster), lb: trafficSwitch(deps, input.cluster), servers: switchServers(deps, input.cluster, input.nodes) };
  }

  /** The waits: read the servers' status until `check` says done, for at most `timeouts.loadBalancerReady`. */
  function pollServers(
    input: { cluster: string; nodes: string[] },
    check: (cluster: ClusterConfig, statuses: ServerStatus[]) => Promise<Look<ServerStatus[]>>,
  ): Promise<ServerStatus[]> {
    const { cluster, lb, servers } = target(input);
    return pollUntilDeadline(cluster.timeouts.loadBalancerReady, deps.pollIntervalMs ?? 500, async () => check(cluster, await lb.statuses(servers)));
  }

  const after = (cluster: ClusterConfig) => `${Math.round(cluster.timeouts.loadBalancerReady / 1000)}s`;

  return {
    ...createLoadBalancerHoldActivities(deps),

    /**
     * Sets the administrative state of the given nodes' servers in the cluster's load balancer,
     * where a reload or restart reads it too (HAProxy: runtime API, then
     * `loadBalancer.serverStateFile` when configured; Nginx: the include, checked and reloaded).
     * Idempotent and safe to retry: setting a state a server already has changes nothing.
     */
    async setLoadBalancerServers(input: { cluster: string; nodes: string[]; state: ServerAdminState }): Promise<ServerStatus[]> {
      const { lb, servers } = target(input);
      await lb.setServers(servers, input.state);
      return lb.statuses(servers);
    },

    /**
     * Switches the cluster's site to (on) or away from (off) the 503 maintenance page (HAProxy:
     * the cluster's key in `maintenanceMap`, in memory and in the map file a reload re-reads;
     * Nginx: `$<upstream>_maintenance` in the include, checked and reloaded). Idempotent and
     * safe to retry. A file the worker cannot write, or a configuration Nginx refuses, fails as
     * LoadBalancerError (not retried).
     */
    async setMaintenanceMode(input: { cluster: string; on: boolean }): Promise<void> {
      getCluster(deps, input.cluster);
      await trafficSwitch(deps, input.cluster).setMaintenance(input.on);
    },

    /**
     * Waits until the given nodes' servers handle no request any more (after `drain` or `maint`),
     * so stopping them cuts nobody off. Read-only, heartbeats, safe to retry.
     */
    async waitServersDrained(input: { cluster: string; nodes: string[] }): Promise<ServerStatus[]> {
      return pollServers(input, async (cluster, statuses) =>
        statuses.every((entry) => entry.sessions === 0)
          ? { done: true, value: statuses }
          : {
              done: false,
              progress: { statuses },
              failure: () => ApplicationFailure.nonRetryable(`servers still busy after ${after(cluster)}: ${JSON.stringify(statuses)}`, FailureType.LoadBalancerNotDrained),
            },
      );
    },

    /**
     * Waits until the load balancer reports every given node's server UP (HAProxy: its health
     * checks; Nginx: the reload took and the node's health URL answers 200) and, when the
     * cluster has a public `url` (and `publicUrl` is not false), that URL answers 200.
     * Read-only, heartbeats, safe to retry.
     */
    async waitLoadBalancerServing(input: { cluster: string; nodes: string[]; publicUrl?: boolean }): Promise<ServerStatus[]> {
      return pollServers(input, async (cluster, statuses) => {
        const allUp = statuses.every((entry) => entry.status === 'UP');
        let publicStatus: number | string = 'not checked';
        // While the maintenance page is up the public URL answers 503 by design: the caller says.
        if (allUp && cluster.loadBalancer.url && input.publicUrl !== false) publicStatus = await probeStatus(cluster.loadBalancer.url);
        if (allUp && (publicStatus === 'not checked' || publicStatus === 200)) return { done: true, value: statuses };
        return {
          done: false,
          progress: { statuses, publicStatus },
          failure: () =>
            ApplicationFailure.nonRetryable(
              `load balancer not serving after ${after(cluster)}: ${JSON.stringify({ statuses, publicStatus })}`,
              FailureType.LoadBalancerNotServing,
            ),
        };
      });
    },
  };
}

import { ApplicationFailure } from '@temporalio/activity';
import { serverStatuses, setMapEntry, setServerState, type ServerAdminState, type ServerStatus } from '../../adapters/haproxy/backend';
import { writeMapFileEntry } from '../../adapters/haproxy/map-file';
import { persistServerStates } from '../../adapters/haproxy/server-state';
import { probeStatus } from '../../adapters/nocobase/http-probes';
import { FailureType } from '../../common/failure-types';
import type { ClusterConfig } from '../../config/schema';
import { pollUntilDeadline, type Look } from '../activity-context';
import { getCluster, getNode, lbServerName } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { createLoadBalancerHoldActivities } from './hold';

export type { ServerAdminState, ServerStatus } from '../../adapters/haproxy/backend';
export type { HoldLoadBalancerInput, HoldLoadBalancerReport, LoadBalancerDrift } from './hold';

/**
 * The load balancer's part in a procedure: servers taken out of and put back into the cluster's
 * HAProxy backend, and the frontend switched to the 503 maintenance page and back. Changes are
 * made through HAProxy's runtime API (adapters/haproxy), in memory, without a reload, and written
 * to the files a reload reads (the map file; the server state file when the cluster names one),
 * so a reload by an operator or a certificate renewal keeps them. What the operator's haproxy.cfg
 * needs for that is in scripts/stack/haproxy.sh.
 */
export function createLoadBalancerActivities(deps: ActivityDeps) {
  function target(input: { cluster: string; nodes: string[] }) {
    const cluster = getCluster(deps, input.cluster);
    const api = deps.haproxy(cluster.loadBalancer.runtimeApi);
    const servers = input.nodes.map((name) => lbServerName(getNode(deps, input.cluster, name)));
    return { cluster, api, backend: cluster.loadBalancer.backend, servers };
  }

  /** The waits: read the servers' status until `check` says done, for at most `timeouts.loadBalancerReady`. */
  function pollServers(
    input: { cluster: string; nodes: string[] },
    check: (cluster: ClusterConfig, statuses: ServerStatus[]) => Promise<Look<ServerStatus[]>>,
  ): Promise<ServerStatus[]> {
    const { cluster, api, backend, servers } = target(input);
    return pollUntilDeadline(cluster.timeouts.loadBalancerReady, deps.pollIntervalMs ?? 500, async () => check(cluster, await serverStatuses(api, backend, servers)));
  }

  const after = (cluster: ClusterConfig) => `${Math.round(cluster.timeouts.loadBalancerReady / 1000)}s`;

  return {
    ...createLoadBalancerHoldActivities(deps),

    /**
     * Sets the administrative state of the given nodes' servers in the cluster's backend, then
     * writes the backend's states to `loadBalancer.serverStateFile` when configured.
     * Idempotent and safe to retry: setting a state a server already has changes nothing.
     */
    async setLoadBalancerServers(input: { cluster: string; nodes: string[]; state: ServerAdminState }): Promise<ServerStatus[]> {
      const { cluster, api, backend, servers } = target(input);
      for (const server of servers) await setServerState(api, backend, server, input.state);
      if (cluster.loadBalancer.serverStateFile) await persistServerStates(api, backend, cluster.loadBalancer.serverStateFile);
      return serverStatuses(api, backend, servers);
    },

    /**
     * Switches the cluster's frontend to (on) or away from (off) the 503 maintenance page by
     * setting the cluster's key in `maintenanceMap`, in HAProxy's memory and in the map file
     * (`maintenanceMapFile`, default `maintenanceMap`) that a reload re-reads. Idempotent and
     * safe to retry. A map file the worker cannot write fails as LoadBalancerError (not retried).
     */
    async setMaintenanceMode(input: { cluster: string; on: boolean }): Promise<void> {
      const cluster = getCluster(deps, input.cluster);
      const { maintenanceMap, maintenanceMapFile, maintenanceKey, runtimeApi } = cluster.loadBalancer;
      const key = maintenanceKey ?? input.cluster;
      const value = input.on ? 'on' : 'off';
      // Memory first: it also proves the map exists before a file is touched. So a failure may
      // come after users were switched: the workflow passes its point of no return before an
      // `off` (src/workflows/node-rollout.ts restoreTraffic), not after it succeeded.
      await setMapEntry(deps.haproxy(runtimeApi), maintenanceMap, key, value);
      await writeMapFileEntry(maintenanceMapFile ?? maintenanceMap, key, value);
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
     * Waits until HAProxy's health checks report every given node's server UP and, when the
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

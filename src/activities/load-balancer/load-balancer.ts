import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import type { ClusterConfig } from '../../config/schema';
import { getCluster, getNode, lbServerName } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { HaproxyCommandError, type HaproxyRuntime } from '../../adapters/haproxy/runtime';

/** HAProxy's administrative server states: `ready` serves, `drain` finishes what it has, `maint` takes nothing. */
export type ServerAdminState = 'ready' | 'drain' | 'maint';

export interface ServerStatus {
  server: string;
  /** HAProxy's status column: UP, DOWN, MAINT, DRAIN, "UP 1/2", ... */
  status: string;
  /** Requests the server is handling right now (HAProxy's `scur`). */
  sessions: number;
}

export function createLoadBalancerActivities(deps: ActivityDeps) {
  function runtime(cluster: ClusterConfig): HaproxyRuntime {
    return deps.haproxy(cluster.loadBalancer.runtimeApi);
  }

  /** A refused command means the configuration names a backend, server or map HAProxy lacks. */
  async function run(api: HaproxyRuntime, line: string): Promise<void> {
    try {
      await api.commandExpectingSilence(line);
    } catch (error) {
      if (error instanceof HaproxyCommandError) throw ApplicationFailure.nonRetryable(error.message, FailureType.LoadBalancerError);
      throw error;
    }
  }

  async function serverStatuses(cluster: ClusterConfig, servers: string[]): Promise<ServerStatus[]> {
    const rows = await runtime(cluster).stats();
    return servers.map((server) => {
      const row = rows.find((candidate) => candidate.pxname === cluster.loadBalancer.backend && candidate.svname === server);
      if (!row) {
        throw ApplicationFailure.nonRetryable(
          `load balancer has no server ${cluster.loadBalancer.backend}/${server}`,
          FailureType.LoadBalancerError,
        );
      }
      return { server, status: row.status ?? '', sessions: Number(row.scur ?? 0) };
    });
  }

  /**
   * The waits' common loop: read the servers' status until `check` says done, heartbeating the
   * progress; the deadline (`timeouts.loadBalancerReady`) counts from the first attempt, kept in
   * the heartbeat so a retried activity does not start the clock again.
   */
  async function pollServers(
    input: { cluster: string; nodes: string[] },
    check: (cluster: ClusterConfig, statuses: ServerStatus[]) => Promise<{ done: boolean; progress: Record<string, unknown>; failure: () => Error }>,
  ): Promise<ServerStatus[]> {
    const context = Context.current();
    const cluster = getCluster(deps, input.cluster);
    const servers = input.nodes.map((name) => lbServerName(getNode(deps, input.cluster, name)));
    const startedAt = (context.info.heartbeatDetails as { startedAt?: number } | undefined)?.startedAt ?? Date.now();
    for (;;) {
      const statuses = await serverStatuses(cluster, servers);
      const { done, progress, failure } = await check(cluster, statuses);
      if (done) return statuses;
      context.heartbeat({ startedAt, ...progress });
      if (Date.now() - startedAt > cluster.timeouts.loadBalancerReady) throw failure();
      await context.sleep(deps.pollIntervalMs ?? 500);
    }
  }

  return {
    /**
     * Sets the administrative state of the given nodes' servers in the cluster's backend.
     * Idempotent: setting a state a server already has changes nothing.
     */
    async setLoadBalancerServers(input: { cluster: string; nodes: string[]; state: ServerAdminState }): Promise<ServerStatus[]> {
      const cluster = getCluster(deps, input.cluster);
      const servers = input.nodes.map((name) => lbServerName(getNode(deps, input.cluster, name)));
      for (const server of servers) {
        await run(runtime(cluster), `set server ${cluster.loadBalancer.backend}/${server} state ${input.state}`);
      }
      return serverStatuses(cluster, servers);
    },

    /**
     * Switches the cluster's frontend to (on) or away from (off) the 503 maintenance page.
     * Idempotent. The switch lives in HAProxy's memory; a reload re-reads the map file.
     */
    async setMaintenanceMode(input: { cluster: string; on: boolean }): Promise<void> {
      const cluster = getCluster(deps, input.cluster);
      const { maintenanceMap, maintenanceKey } = cluster.loadBalancer;
      const key = maintenanceKey ?? input.cluster;
      const value = input.on ? 'on' : 'off';
      const entries = await runtime(cluster).command(`show map ${maintenanceMap}`);
      if (/^Unknown map identifier/im.test(entries)) {
        throw ApplicationFailure.nonRetryable(`load balancer has no map ${maintenanceMap}`, FailureType.LoadBalancerError);
      }
      const present = entries.split('\n').some((line) => line.trim().split(/\s+/)[1] === key);
      await run(runtime(cluster), `${present ? 'set' : 'add'} map ${maintenanceMap} ${key} ${value}`);
    },

    /**
     * Waits until the given nodes' servers handle no request any more (after `drain` or `maint`),
     * so stopping them cuts nobody off. Read-only, heartbeats, safe to retry.
     */
    async waitServersDrained(input: { cluster: string; nodes: string[] }): Promise<ServerStatus[]> {
      return pollServers(input, async (cluster, statuses) => ({
        done: statuses.every((entry) => entry.sessions === 0),
        progress: { statuses },
        failure: () =>
          ApplicationFailure.nonRetryable(
            `servers still busy after ${Math.round(cluster.timeouts.loadBalancerReady / 1000)}s: ${JSON.stringify(statuses)}`,
            FailureType.LoadBalancerNotDrained,
          ),
      }));
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
        if (allUp && cluster.loadBalancer.url && input.publicUrl !== false) {
          publicStatus = await fetch(cluster.loadBalancer.url, { signal: AbortSignal.timeout(2_000) })
            .then((response) => response.status)
            .catch((error: Error) => error.message);
        }
        return {
          done: allUp && (publicStatus === 'not checked' || publicStatus === 200),
          progress: { statuses, publicStatus },
          failure: () =>
            ApplicationFailure.nonRetryable(
              `load balancer not serving after ${Math.round(cluster.timeouts.loadBalancerReady / 1000)}s: ${JSON.stringify({ statuses, publicStatus })}`,
              FailureType.LoadBalancerNotServing,
            ),
        };
      });
    },
  };
}

import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import type { NodeReadiness, PluginSummary } from '../../common/procedure-types';
import type { NodeConfig } from '../../config/schema';
import { getCluster, getNode } from '../cluster/lookup';
import { createNamingLookup } from '../cluster/naming-from-nodes';
import type { ActivityDeps } from '../deps';
import { demuxDockerLogs } from '../../adapters/docker/logs';
import { pluginsReady, readApplicationState } from '../../adapters/nocobase/application-state';

export interface WaitNodeReadyInput {
  cluster: string;
  node: string;
  /** Also wait until the database shows every built-in plugin installed and enabled. */
  requirePlugins: boolean;
  /**
   * Also wait until the database records this application version (an upgrade has finished) and
   * the node itself reports it, when its `app:getInfo` endpoint answers.
   */
  expectVersion?: string | null;
}

interface Observation {
  health: string;
  version?: string | null;
  plugins?: PluginSummary | null;
  appVersion?: string | null;
}

/** Heartbeat details; `startedAt` survives a retry so the timeout counts from the first attempt. */
interface Progress extends Observation {
  startedAt: number;
}

/** NocoBase's gateway answers 503 with `{ error: { code } }` while it installs or upgrades. */
async function probeHealth(url: string): Promise<{ ok: boolean; code: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    const body = await response.text();
    if (response.status === 200) return { ok: true, code: 'ok' };
    let code = `HTTP ${response.status}`;
    try {
      code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? code;
    } catch {
      // not JSON: keep the status
    }
    return { ok: false, code };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, code: cause?.code ?? cause?.message ?? (error as Error).message };
  }
}

/**
 * NocoBase's public `app:getInfo`, beside the health check (so a sub-path deployment keeps its
 * prefix); otherwise at the URL's origin.
 */
export function appInfoUrl(healthUrl: string): string {
  const url = new URL(healthUrl);
  const base = url.pathname.endsWith('/api/__health_check') ? url.pathname.slice(0, -'/__health_check'.length) : '/api';
  return `${url.origin}${base}/app:getInfo`;
}

/**
 * The version the running node reports, or null when it does not answer 200 with one: the
 * endpoint is a second opinion, and a node that lacks it (or a proxy that hides it) must not block
 * readiness on its own. The database's version stays required.
 */
async function probeAppVersion(healthUrl: string): Promise<string | null> {
  try {
    const response = await fetch(appInfoUrl(healthUrl), { signal: AbortSignal.timeout(2_000) });
    const body = await response.text();
    if (response.status !== 200) return null;
    const version = (JSON.parse(body) as { data?: { version?: unknown } } | null)?.data?.version;
    return typeof version === 'string' ? version : null;
  } catch {
    return null;
  }
}

export function createHealthActivities(deps: ActivityDeps) {
  const namingOf = createNamingLookup(deps);

  async function failIfExited(node: NodeConfig): Promise<void> {
    const container = deps.docker(node.dockerHost).getContainer(node.container);
    const info = await container.inspect();
    if (info.State.Running) return;
    const logs = await container.logs({ stdout: true, stderr: true, tail: 15 });
    const tail = demuxDockerLogs(logs).trim();
    throw ApplicationFailure.nonRetryable(
      `node ${node.name}: container ${node.container} is ${info.State.Status} (exit code ${info.State.ExitCode}) instead of becoming ready\n${tail}`,
      FailureType.NodeExited,
      { node: node.name, exitCode: info.State.ExitCode, logTail: tail },
    );
  }

  return {
    /** One look at a node's health check, without waiting. Read-only; safe to retry. */
    async probeNode(input: { cluster: string; node: string }): Promise<{ node: string; healthy: boolean; code: string }> {
      const node = getNode(deps, input.cluster, input.node);
      const health = await probeHealth(node.healthUrl);
      return { node: node.name, healthy: health.ok, code: health.code };
    },

    /**
     * Waits until a started node answers its health check with 200 and, when asked, the database
     * shows its plugins installed and enabled, and reports the node's own version (app:getInfo).
     * Fails at once when the container exits; fails after the cluster's `timeouts.nodeReady`.
     * Read-only (the cluster's first container is inspected for its table naming), heartbeats,
     * safe to retry.
     */
    async waitNodeReady(input: WaitNodeReadyInput): Promise<NodeReadiness> {
      const context = Context.current();
      const cluster = getCluster(deps, input.cluster);
      const node = getNode(deps, input.cluster, input.node);
      const resumed = context.info.heartbeatDetails as Progress | undefined;
      const startedAt = resumed?.startedAt ?? Date.now();
      const deadline = startedAt + cluster.timeouts.nodeReady;
      let last: Observation = { health: 'not probed yet' };

      for (;;) {
        await failIfExited(node);
        const health = await probeHealth(node.healthUrl);
        last = { health: health.code };
        if (health.ok) {
          const state = await readApplicationState(deps.database(input.cluster), await namingOf(input.cluster));
          const appVersion = await probeAppVersion(node.healthUrl);
          last = { health: health.code, version: state.version, plugins: state.plugins, appVersion };
          const versionOk = !input.expectVersion
            || (state.version === input.expectVersion && (appVersion === null || appVersion === input.expectVersion));
          if (versionOk && (!input.requirePlugins || pluginsReady(state.plugins))) {
            return {
              node: node.name,
              version: state.version,
              ...(state.plugins ? { plugins: state.plugins } : {}),
              waitedMs: Date.now() - startedAt,
              ...(appVersion === null ? {} : { appVersion }),
            };
          }
        }
        context.heartbeat({ startedAt, ...last } satisfies Progress);
        if (Date.now() >= deadline) {
          throw ApplicationFailure.nonRetryable(
            `node ${node.name} not ready after ${Math.round(cluster.timeouts.nodeReady / 1000)}s (last seen: ${JSON.stringify(last)})`,
            FailureType.NodeNotReady,
            last,
          );
        }
        await context.sleep(deps.pollIntervalMs ?? 500);
      }
    },
  };
}

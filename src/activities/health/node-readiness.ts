import { ApplicationFailure } from '@temporalio/activity';
import { pluginsReady, readApplicationState } from '../../adapters/nocobase/application-state';
import { healthVerdict, probeAppInfo, probeHealth, type HealthAnswer } from '../../adapters/nocobase/http-probes';
import { FailureType } from '../../common/failure-types';
import type { NodeReadiness, PluginSummary } from '../../common/procedure-types';
import type { ClusterConfig, NodeConfig } from '../../config/schema';
import { pollUntilDeadline } from '../activity-context';
import { getCluster, getNode } from '../cluster/lookup';
import { createNamingLookup } from '../cluster/naming-from-nodes';
import type { ActivityDeps } from '../deps';
import { nodesOf } from '../nodes/factory';

export interface WaitNodeReadyInput {
  cluster: string;
  node: string;
  /** Also wait until the database shows every built-in plugin installed and enabled. */
  requirePlugins: boolean;
  /**
   * Also wait until the database records this application version (an upgrade has finished) and
   * the node itself reports it through `app:getInfo`.
   */
  expectVersion?: string | null;
}

/** What one look saw; heartbeated, and the details of a NodeNotReady failure. */
interface Observation {
  health: string;
  message?: string;
  version?: string | null;
  plugins?: PluginSummary | null;
  appVersion?: string | null;
  appInfo?: string;
}

/**
 * Remembers a 503 that is neither progress nor APP_ERROR (see `healthVerdict`) and says when the
 * same code and message have lasted longer than the grace. Kept per attempt: a retried wait gives
 * the node a fresh grace, which only delays a verdict by that much.
 */
function graceWatch(graceMs: number) {
  let seen: { key: string; since: number } | undefined;
  return {
    reset(): void {
      seen = undefined;
    },
    /** How long this answer has been given unchanged, once that is longer than the grace. */
    expired(answer: HealthAnswer, now: number): number | undefined {
      const key = `${answer.status} ${answer.code} ${answer.message ?? ''}`;
      if (seen?.key !== key) seen = { key, since: now };
      const lasted = now - seen.since;
      return lasted > graceMs ? lasted : undefined;
    },
  };
}

export function createHealthActivities(deps: ActivityDeps) {
  const namingOf = createNamingLookup(deps);

  async function logTail(cluster: string, node: NodeConfig): Promise<string> {
    return nodesOf(deps, cluster).logTail(node, 15);
  }

  /** A node that stopped (its container exited, its pod crash-loops) will not become ready: fail at once, with its last log lines. */
  async function failIfExited(cluster: string, node: NodeConfig): Promise<void> {
    const exit = await nodesOf(deps, cluster).exited(node);
    if (!exit) return;
    throw ApplicationFailure.nonRetryable(
      `node ${node.name}: ${exit.state}${exit.exitCode === null ? '' : ` (exit code ${exit.exitCode})`} instead of becoming ready\n${exit.logTail}`,
      FailureType.NodeExited,
      { node: node.name, exitCode: exit.exitCode, logTail: exit.logTail },
    );
  }

  /** Where the node answers now; null while it has no address yet (a pod not scheduled). */
  async function healthUrlOf(cluster: string, node: NodeConfig): Promise<string | null> {
    return nodesOf(deps, cluster).healthUrl(node);
  }

  /** The application says it failed (and NocoBase then stays up at 503): waiting longer cannot help. */
  async function nodeFailed(cluster: string, node: NodeConfig, answer: HealthAnswer, lastedMs: number | null): Promise<ApplicationFailure> {
    const tail = await logTail(cluster, node).catch(() => '');
    const answered = `${answer.status ?? '?'} ${answer.code}${answer.message ? `: ${answer.message}` : ''}`;
    const how = lastedMs === null ? '' : ` (unchanged for ${Math.round(lastedMs / 1000)}s)`;
    return ApplicationFailure.nonRetryable(
      `node ${node.name} failed instead of becoming ready: its health check answers ${answered}${how}\n${tail}`.trimEnd(),
      FailureType.NodeFailed,
      { node: node.name, status: answer.status, code: answer.code, message: answer.message ?? null, lastedMs, logTail: tail },
    );
  }

  /** Health is 200: ready once app:getInfo, the database's version and (if asked) plugins agree. */
  async function readyOrNot(input: WaitNodeReadyInput, healthUrl: string, health: HealthAnswer) {
    const info = await probeAppInfo(healthUrl);
    const state = await readApplicationState(deps.database(input.cluster), await namingOf(input.cluster));
    const last: Observation = {
      health: health.code, version: state.version, plugins: state.plugins,
      ...(info.ok ? { appVersion: info.version } : { appInfo: info.reason }),
    };
    // Health is 200 even while the node cannot reach its database; app:getInfo reads it.
    const versionOk = !input.expectVersion || (state.version === input.expectVersion && info.ok && info.version === input.expectVersion);
    const ready = info.ok && versionOk && (!input.requirePlugins || pluginsReady(state.plugins));
    return { ready, last, state, appVersion: info.ok ? info.version : null };
  }

  return {
    /** One look at a node's health check, without waiting. Read-only; safe to retry. */
    async probeNode(input: { cluster: string; node: string }): Promise<{ node: string; healthy: boolean; code: string }> {
      const node = getNode(deps, input.cluster, input.node);
      const url = await healthUrlOf(input.cluster, node);
      if (!url) return { node: node.name, healthy: false, code: 'NO_ADDRESS' };
      const health = await probeHealth(url);
      return { node: node.name, healthy: health.ok, code: health.code };
    },

    /**
     * Waits until a started node answers its health check with 200, its `app:getInfo` answers
     * (with `expectVersion`, when given, as the database records too) and, when asked, the
     * database shows its plugins installed and enabled. Fails at once when the container exits
     * (NodeExited) or the application says it failed (`APP_ERROR`, or the same other 503 error
     * for longer than `timeouts.nodeFailedGrace`: NodeFailed — real NocoBase stays up at 503
     * after a failed upgrade, so waiting would only keep users on the maintenance page); fails
     * after `timeouts.nodeReady` (NodeNotReady), counted from the first attempt. Read-only (the
     * cluster's first container is inspected for its table naming), heartbeats, safe to retry.
     */
    async waitNodeReady(input: WaitNodeReadyInput): Promise<NodeReadiness> {
      const cluster: ClusterConfig = getCluster(deps, input.cluster);
      const node = getNode(deps, input.cluster, input.node);
      const grace = graceWatch(cluster.timeouts.nodeFailedGrace);
      const notReady = (last: Observation) => () =>
        ApplicationFailure.nonRetryable(
          `node ${node.name} not ready after ${Math.round(cluster.timeouts.nodeReady / 1000)}s (last seen: ${JSON.stringify(last)})`,
          FailureType.NodeNotReady,
          last,
        );

      return pollUntilDeadline(cluster.timeouts.nodeReady, deps.pollIntervalMs ?? 500, async (startedAt) => {
        await failIfExited(input.cluster, node);
        const url = await healthUrlOf(input.cluster, node);
        if (!url) {
          const last: Observation = { health: 'NO_ADDRESS' };
          return { done: false, progress: { ...last }, failure: notReady(last) };
        }
        const health = await probeHealth(url);
        const verdict = healthVerdict(health);
        if (verdict === 'failed') throw await nodeFailed(input.cluster, node, health, null);
        if (verdict === 'suspect') {
          const lasted = grace.expired(health, Date.now());
          if (lasted !== undefined) throw await nodeFailed(input.cluster, node, health, lasted);
        } else {
          grace.reset();
        }
        if (verdict !== 'ready') {
          const last: Observation = { health: health.code, ...(health.message ? { message: health.message } : {}) };
          return { done: false, progress: { ...last }, failure: notReady(last) };
        }
        const look = await readyOrNot(input, url, health);
        if (!look.ready) return { done: false, progress: { ...look.last }, failure: notReady(look.last) };
        return {
          done: true,
          value: {
            node: node.name,
            version: look.state.version,
            ...(look.state.plugins ? { plugins: look.state.plugins } : {}),
            waitedMs: Date.now() - startedAt,
            ...(look.appVersion === null ? {} : { appVersion: look.appVersion }),
          },
        };
      });
    },
  };
}

import { ApplicationFailure } from '@temporalio/activity';
import { containerLogTail } from '../../adapters/docker/containers';
import { pluginsReady, readApplicationState } from '../../adapters/nocobase/application-state';
import { probeAppVersion, probeHealth } from '../../adapters/nocobase/http-probes';
import { FailureType } from '../../common/failure-types';
import type { NodeReadiness, PluginSummary } from '../../common/procedure-types';
import type { NodeConfig } from '../../config/schema';
import { pollUntilDeadline } from '../activity-context';
import { getCluster, getNode } from '../cluster/lookup';
import { createNamingLookup } from '../cluster/naming-from-nodes';
import type { ActivityDeps } from '../deps';

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

/** What one look saw; heartbeated, and the details of a NodeNotReady failure. */
interface Observation {
  health: string;
  version?: string | null;
  plugins?: PluginSummary | null;
  appVersion?: string | null;
}

export function createHealthActivities(deps: ActivityDeps) {
  const namingOf = createNamingLookup(deps);

  /** A container that stopped will not become ready: fail at once, with its last log lines. */
  async function failIfExited(node: NodeConfig): Promise<void> {
    const container = deps.docker(node.dockerHost).getContainer(node.container);
    const info = await container.inspect();
    if (info.State.Running) return;
    const tail = await containerLogTail(container, 15);
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
     * Fails at once when the container exits (NodeExited); fails after the cluster's
     * `timeouts.nodeReady` (NodeNotReady), counted from the first attempt. Read-only (the
     * cluster's first container is inspected for its table naming), heartbeats, safe to retry.
     */
    async waitNodeReady(input: WaitNodeReadyInput): Promise<NodeReadiness> {
      const cluster = getCluster(deps, input.cluster);
      const node = getNode(deps, input.cluster, input.node);
      const notReady = (last: Observation) => () =>
        ApplicationFailure.nonRetryable(
          `node ${node.name} not ready after ${Math.round(cluster.timeouts.nodeReady / 1000)}s (last seen: ${JSON.stringify(last)})`,
          FailureType.NodeNotReady,
          last,
        );

      return pollUntilDeadline(cluster.timeouts.nodeReady, deps.pollIntervalMs ?? 500, async (startedAt) => {
        await failIfExited(node);
        const health = await probeHealth(node.healthUrl);
        if (!health.ok) {
          const last: Observation = { health: health.code };
          return { done: false, progress: { ...last }, failure: notReady(last) };
        }
        const state = await readApplicationState(deps.database(input.cluster), await namingOf(input.cluster));
        const appVersion = await probeAppVersion(node.healthUrl);
        const last: Observation = { health: health.code, version: state.version, plugins: state.plugins, appVersion };
        const versionOk = !input.expectVersion
          || (state.version === input.expectVersion && (appVersion === null || appVersion === input.expectVersion));
        if (!versionOk || (input.requirePlugins && !pluginsReady(state.plugins))) {
          return { done: false, progress: { ...last }, failure: notReady(last) };
        }
        return {
          done: true,
          value: {
            node: node.name,
            version: state.version,
            ...(state.plugins ? { plugins: state.plugins } : {}),
            waitedMs: Date.now() - startedAt,
            ...(appVersion === null ? {} : { appVersion }),
          },
        };
      });
    },
  };
}

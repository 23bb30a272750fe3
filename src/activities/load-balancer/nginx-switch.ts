import { promises as fs } from 'node:fs';
import { ApplicationFailure } from '@temporalio/activity';
import { nginxWorkers, runCommand, servedBy, workersOf, type NginxWorker } from '../../adapters/nginx/control';
import { addressOf, parseInclude, renderInclude, type IncludeState } from '../../adapters/nginx/include-file';
import { readOptional, serialized, writeAtomically } from '../../adapters/local-files';
import { probeHealth } from '../../adapters/nocobase/http-probes';
import { FailureType } from '../../common/failure-types';
import type { NginxLoadBalancerConfig } from '../../config/schema';
import type { ServerStatus, SwitchServer, TrafficSwitch } from './traffic-switch';
import { asDockerNode } from '../nodes/factory';

/** How long a reload may take before the new generation must be the one answering. */
const RELOAD_TAKES_MS = 20_000;

/**
 * Nginx (OSS) behind the traffic switch. It has no runtime API: every change rewrites the include
 * file (temp + rename), checks the whole configuration with `testCommand` (a refusal puts the
 * previous include back: LoadBalancerError, not retried), runs `reloadCommand`, and waits until
 * the status location answers the include's new generation, i.e. the master re-read the
 * configuration and its new workers serve ("the reload took"). A restart reads the same file, so
 * it comes back as the last procedure left it. A change that finds the file already so and the
 * generation served does nothing (idempotent).
 *
 * The servers are the cluster's app nodes (`appServers`), at the address of their health URL.
 */
export function nginxSwitch(config: NginxLoadBalancerConfig, appServers: SwitchServer[]): TrafficSwitch {
  const { includeFile, upstream, testCommand, reloadCommand, generationUrl, processesCommand } = config;

  /** The file's state; a missing file is every server out (as HAProxy's `disabled`), the page off. */
  async function read(): Promise<{ text: string | null; state: IncludeState }> {
    const text = await readOptional(includeFile);
    if (text === null) {
      return { text, state: { generation: 0, maintenance: false, servers: appServers.map(({ node, server }) => ({ server, address: addressOf(asDockerNode(node, 'an Nginx upstream').healthUrl), state: 'maint' })) } };
    }
    const parsed = parseInclude(upstream, text);
    if (typeof parsed === 'string') {
      throw ApplicationFailure.nonRetryable(
        `${includeFile} is not an include this worker wrote for upstream ${upstream}: ${parsed}. Remove it (the worker writes it again, every server out) or restore it`,
        FailureType.LoadBalancerError,
      );
    }
    // The configuration's app nodes, in its order, each with the state the file gave it.
    const servers = appServers.map(({ node, server }) => ({ server, address: addressOf(asDockerNode(node, 'an Nginx upstream').healthUrl), state: parsed.servers.find((entry) => entry.server === server)?.state ?? 'maint' }));
    return { text, state: { ...parsed, servers } };
  }

  /**
   * Waits until the reload took: the status location answers the new generation and none of the
   * workers that accepted connections before the reload still does (the master starts the new
   * workers first and only then tells the old ones to stop accepting, so one answer of the new
   * generation alone does not prove that an old worker takes nothing new).
   */
  async function waitTook(generation: number, before: NginxWorker[]): Promise<void> {
    const deadline = Date.now() + RELOAD_TAKES_MS;
    let served: number | null = null;
    let stillAccepting: number[] = [];
    while (Date.now() < deadline) {
      served = (await servedBy(generationUrl))?.generation ?? null;
      if (served === generation) {
        const accepting = new Set((await nginxWorkers(processesCommand)).filter((worker) => worker.accepting).map((worker) => worker.pid));
        stillAccepting = before.map((worker) => worker.pid).filter((pid) => accepting.has(pid));
        if (stillAccepting.length === 0) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Retryable: Nginx may be restarting; a retry finds the file written and reloads again.
    throw new Error(
      `nginx did not take the reload: ${generationUrl} answers generation ${served ?? 'nothing'}, the include ${includeFile} says ${generation}` +
        (stillAccepting.length > 0 ? `; workers ${stillAccepting.join(', ')} of before the reload still accept connections` : ''),
    );
  }

  /**
   * Applies `change` to the include's state under the file's lock and makes Nginx serve it.
   * Returns the state before and what Nginx served before, for the caller's report.
   */
  function apply(change: (state: IncludeState) => void): Promise<{ before: IncludeState; served: number | null; reloaded: boolean }> {
    return serialized(includeFile, async () => {
      const { text, state: before } = await read();
      const next: IncludeState = structuredClone(before);
      change(next);
      const same = text !== null && renderInclude(upstream, next) === renderInclude(upstream, before) && text === renderInclude(upstream, before);
      const answer = await servedBy(generationUrl);
      const served = answer?.generation ?? null;
      if (same && served === before.generation) return { before, served, reloaded: false };
      const acceptingBefore = workersOf(await nginxWorkers(processesCommand), answer?.pid).filter((worker) => worker.accepting);
      if (!same) next.generation = Math.max(before.generation, served ?? 0) + 1;
      const nextText = renderInclude(upstream, next);
      if (nextText !== text) await writeAtomically(includeFile, nextText);
      const test = await runCommand(testCommand);
      if (!test.ok) {
        if (text === null) await fs.rm(includeFile, { force: true });
        else await writeAtomically(includeFile, text);
        throw ApplicationFailure.nonRetryable(
          `${testCommand.join(' ')} refused the configuration with the new ${includeFile}, which was put back as it was: ${test.output}`,
          FailureType.LoadBalancerError,
        );
      }
      const reload = await runCommand(reloadCommand);
      // The include stays: it is what the next start or reload must read. Retryable (Nginx down).
      if (!reload.ok) throw new Error(`${reloadCommand.join(' ')} failed (the include ${includeFile} is written): ${reload.output}`);
      await waitTook(next.generation, acceptingBefore);
      return { before, served, reloaded: true };
    });
  }

  function pick(servers: SwitchServer[]): SwitchServer[] {
    for (const { server } of servers) {
      if (!appServers.some((candidate) => candidate.server === server)) {
        throw ApplicationFailure.nonRetryable(`upstream ${upstream} has no server ${server} (only the cluster's app nodes are in it)`, FailureType.LoadBalancerError);
      }
    }
    return servers;
  }

  return {
    async setServers(servers, state) {
      const names = new Set(pick(servers).map(({ server }) => server));
      await apply((next) => {
        for (const entry of next.servers) if (names.has(entry.server)) entry.state = state;
      });
    },

    async statuses(servers) {
      const { state } = await read();
      const answer = await servedBy(generationUrl);
      const served = answer?.generation ?? null;
      const took = served === state.generation;
      const oldWorkers = workersOf(await nginxWorkers(processesCommand), answer?.pid).filter((worker) => !worker.accepting).length;
      // Old workers are not per server: each may hold requests of any server it had.
      const sessions = took ? oldWorkers : Math.max(1, oldWorkers);
      return Promise.all(
        pick(servers).map(async ({ node, server }): Promise<ServerStatus> => {
          const entry = state.servers.find((candidate) => candidate.server === server);
          let status = served === null ? 'NGINX DOWN' : !took ? 'RELOADING' : entry?.state === 'maint' ? 'MAINT' : entry?.state === 'drain' ? 'DRAIN' : 'UP';
          // No active health checks in Nginx OSS: the node's own health URL says whether it serves.
          if (status === 'UP' && !(await probeHealth(asDockerNode(node, 'an Nginx upstream').healthUrl)).ok) status = 'DOWN';
          return { server, status, sessions };
        }),
      );
    },

    async setMaintenance(on) {
      await apply((next) => {
        next.maintenance = on;
      });
    },

    async maintenance() {
      const text = await readOptional(includeFile);
      if (text === null) return null;
      const parsed = parseInclude(upstream, text);
      return typeof parsed === 'string' ? null : parsed.maintenance;
    },

    maintenanceRecovery: () =>
      `Nginx include ${includeFile}: change the line \`map $host $${upstream}_maintenance { default "on"; }\` to \`default "off"\`, ` +
      `then run \`${testCommand.join(' ')}\` and \`${reloadCommand.join(' ')}\`.`,

    async reassert(wanted) {
      const { before, served, reloaded } = await apply((next) => {
        next.maintenance = wanted.maintenance;
        for (const { server, state } of wanted.servers) {
          const entry = next.servers.find((candidate) => candidate.server === server.server);
          if (entry) entry.state = state;
        }
      });
      const drifts: string[] = [];
      if (before.maintenance !== wanted.maintenance) drifts.push(`maintenance switch was ${before.maintenance ? 'on' : 'off'} in ${includeFile}, written ${wanted.maintenance ? 'on' : 'off'}`);
      for (const { server, state } of wanted.servers) {
        const was = before.servers.find((candidate) => candidate.server === server.server)?.state;
        if (was !== state) drifts.push(`server ${upstream}/${server.server} was ${was ?? 'absent'} in ${includeFile}, written ${state}`);
      }
      if (reloaded && drifts.length === 0) drifts.push(`nginx served generation ${served ?? 'nothing'}, the include says ${before.generation}: reloaded`);
      return drifts;
    },
  };
}

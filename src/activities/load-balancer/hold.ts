import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { mapEntry, setMapEntry, setServerState, type ServerAdminState } from '../../adapters/haproxy/backend';
import { readMapFileEntry, writeMapFileEntry } from '../../adapters/haproxy/map-file';
import { fileAdminStates, persistServerStates, runtimeAdminStates } from '../../adapters/haproxy/server-state';
import { FailureType } from '../../common/failure-types';
import { getCluster, getNode, lbServerName } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';

export interface HoldLoadBalancerInput {
  cluster: string;
  /** Whether the maintenance page must be on. */
  maintenance: boolean;
  /** The nodes whose servers must keep a state; servers not listed are not watched. */
  servers: { node: string; state: ServerAdminState }[];
  /** How often to look; default 5 s, well inside `longRunning`'s heartbeat timeout. */
  checkEveryMs?: number;
}

/** Something found different from what the procedure set, and put back. */
export interface LoadBalancerDrift {
  at: string;
  what: string;
}

export interface HoldLoadBalancerReport {
  checks: number;
  /** The most recent MAX_DRIFTS drifts, oldest first. */
  drifts: LoadBalancerDrift[];
}

const DEFAULT_CHECK_MS = 5_000;
const MAX_DRIFTS = 50;

/** True when the cancellation is the workflow's (not a timeout, a worker shutdown, a pause or a reset). */
function cancelledByWorkflow(context: Context): boolean {
  const details = context.cancellationDetails;
  if (details) return details.cancelRequested && !details.paused && !details.reset;
  const reason: unknown = context.cancellationSignal.reason;
  return reason instanceof CancelledFailure && reason.message === 'CANCELLED';
}

export function createLoadBalancerHoldActivities(deps: ActivityDeps) {
  return {
    /**
     * Holds the load balancer where the procedure put it while the procedure waits (an approval
     * of hours): every `checkEveryMs` it reads HAProxy's maintenance switch and the listed
     * servers' administrative states, in memory and in the files a reload reads, and puts back
     * whatever drifted (a reload with stale files, a hand-made change), heartbeating
     * `{ checks, drifts }`. Runs until cancelled and then returns that report: run it with
     * `cancellationType: WAIT_CANCELLATION_COMPLETED` to receive it. A look that fails for a
     * moment (HAProxy mid-reload) is logged and looked at again; a configuration mistake fails
     * (LoadBalancerError). Safe to retry: it only re-asserts, and a retry resumes the counts from
     * its heartbeat.
     */
    async holdLoadBalancer(input: HoldLoadBalancerInput): Promise<HoldLoadBalancerReport> {
      const context = Context.current();
      const cluster = getCluster(deps, input.cluster);
      const { runtimeApi, backend, maintenanceMap, maintenanceMapFile, maintenanceKey, serverStateFile } = cluster.loadBalancer;
      const api = deps.haproxy(runtimeApi);
      const key = maintenanceKey ?? input.cluster;
      const wantedSwitch = input.maintenance ? 'on' : 'off';
      const mapFile = maintenanceMapFile ?? maintenanceMap;
      const wanted = input.servers.map(({ node, state }) => ({ server: lbServerName(getNode(deps, input.cluster, node)), state }));
      const resumed = context.info.heartbeatDetails as Partial<HoldLoadBalancerReport> | undefined;
      const report: HoldLoadBalancerReport = { checks: resumed?.checks ?? 0, drifts: [...(resumed?.drifts ?? [])] };

      const drift = (what: string) => {
        report.drifts.push({ at: new Date().toISOString(), what });
        report.drifts.splice(0, Math.max(0, report.drifts.length - MAX_DRIFTS));
        context.log.warn('load balancer drifted, put back', { cluster: input.cluster, what });
      };

      async function check(): Promise<void> {
        const running = await mapEntry(api, maintenanceMap, key);
        if (running !== wantedSwitch) {
          await setMapEntry(api, maintenanceMap, key, wantedSwitch);
          drift(`maintenance switch ${key} was ${running ?? 'absent'} in HAProxy, set ${wantedSwitch}`);
        }
        const inFile = await readMapFileEntry(mapFile, key);
        if (inFile !== wantedSwitch) {
          await writeMapFileEntry(mapFile, key, wantedSwitch);
          drift(`maintenance switch ${key} was ${inFile ?? 'absent'} in ${mapFile}, written ${wantedSwitch}`);
        }

        const states = await runtimeAdminStates(api, backend);
        let serversChanged = false;
        for (const { server, state } of wanted) {
          const actual = states.get(server);
          if (actual === undefined) throw ApplicationFailure.nonRetryable(`load balancer has no server ${backend}/${server}`, FailureType.LoadBalancerError);
          if (actual === state) continue;
          await setServerState(api, backend, server, state);
          serversChanged = true;
          drift(`server ${backend}/${server} was ${actual} in HAProxy, set ${state}`);
        }
        if (!serverStateFile) return;
        const persisted = await fileAdminStates(serverStateFile, backend);
        const stale = wanted.filter(({ server, state }) => persisted.get(server) !== state);
        if (serversChanged || stale.length > 0) await persistServerStates(api, backend, serverStateFile);
        for (const { server, state } of stale) drift(`server ${backend}/${server} was ${persisted.get(server) ?? 'absent'} in ${serverStateFile}, written ${state}`);
      }

      try {
        for (;;) {
          try {
            await check();
          } catch (error) {
            if (error instanceof ApplicationFailure && error.nonRetryable) throw error;
            if (context.cancellationSignal.aborted) throw error;
            context.log.warn('load balancer check failed, looking again', { cluster: input.cluster, error: String(error) });
          }
          report.checks++;
          // A copy: the SDK may encode a throttled heartbeat later, after more drifts were pushed.
          context.heartbeat({ checks: report.checks, drifts: [...report.drifts] });
          await context.sleep(input.checkEveryMs ?? DEFAULT_CHECK_MS);
        }
      } catch (error) {
        if (context.cancellationSignal.aborted && cancelledByWorkflow(context)) return report;
        throw error;
      }
    },
  };
}

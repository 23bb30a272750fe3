import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from '../deps';
import { switchServers, trafficSwitch } from './factory';
import type { ServerAdminState } from './traffic-switch';

export interface HoldLoadBalancerInput {
  cluster: string;
  /** Whether the maintenance page must be on. */
  maintenance: boolean;
  /** The nodes whose servers must keep a state; servers not listed are not watched. */
  servers: { node: string; state: ServerAdminState }[];
  /** How often to look; default 5 s (the watch heartbeats every 250 ms regardless). */
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
const TICK_MS = 250;
const MAX_DRIFTS = 50;

/** True when the cancellation is the workflow's (not a timeout, a worker shutdown, a pause or a reset). */
function cancelledByWorkflow(context: Context): boolean {
  const details = context.cancellationDetails;
  if (details) return details.cancelRequested && !details.paused && !details.reset;
  const reason: unknown = context.cancellationSignal.reason;
  return reason instanceof CancelledFailure && reason.message === 'CANCELLED';
}

export interface ReleaseLoadBalancerHoldInput {
  cluster: string;
}

export function createLoadBalancerHoldActivities(deps: ActivityDeps) {
  /** The watches running in this process, by workflow run and cluster: a release ends one at once. */
  const releases = new Map<string, () => void>();
  const watchKey = (context: Context, cluster: string) => `${context.info.workflowExecution?.runId ?? ''}/${cluster}`;

  return {
    /**
     * Holds the load balancer where the procedure put it while the procedure waits (an approval
     * of hours): every `checkEveryMs` it reads the maintenance switch and the listed servers'
     * administrative states (HAProxy: in memory and in the files a reload reads; Nginx: in the
     * include and the generation served), and puts back
     * whatever drifted (a reload with stale files, a hand-made change), heartbeating
     * `{ checks, drifts }`. Runs until cancelled and then returns that report: run it with
     * `cancellationType: WAIT_CANCELLATION_COMPLETED` to receive it. A look that fails for a
     * moment (a load balancer mid-reload) is logged and looked at again; a configuration mistake fails
     * (LoadBalancerError). Safe to retry: it only re-asserts, and a retry resumes the counts from
     * its heartbeat.
     */
    async holdLoadBalancer(input: HoldLoadBalancerInput): Promise<HoldLoadBalancerReport> {
      const context = Context.current();
      const lb = trafficSwitch(deps, input.cluster);
      const servers = switchServers(deps, input.cluster, input.servers.map(({ node }) => node));
      const wanted = { maintenance: input.maintenance, servers: input.servers.map(({ state }, index) => ({ server: servers[index]!, state })) };
      const resumed = context.info.heartbeatDetails as Partial<HoldLoadBalancerReport> | undefined;
      const report: HoldLoadBalancerReport = { checks: resumed?.checks ?? 0, drifts: [...(resumed?.drifts ?? [])] };

      const drift = (what: string) => {
        report.drifts.push({ at: new Date().toISOString(), what });
        report.drifts.splice(0, Math.max(0, report.drifts.length - MAX_DRIFTS));
        context.log.warn('load balancer drifted, put back', { cluster: input.cluster, what });
      };

      async function check(): Promise<void> {
        for (const what of await lb.reassert(wanted)) drift(what);
      }

      // The workflow's release (releaseLoadBalancerHold) ends the watch without waiting for a
      // heartbeat's answer.
      const watch = watchKey(context, input.cluster);
      let released = false;
      let wake = () => {};
      const release = () => {
        released = true;
        wake();
      };
      /** Waits until the next look, a release or a cancellation (which throws), leaving no timer behind. */
      const pause = (ms: number) =>
        new Promise<void>((resolve, reject) => {
          const signal = context.cancellationSignal;
          const end = (settle: () => void) => {
            clearTimeout(timer);
            signal.removeEventListener('abort', aborted);
            wake = () => {};
            settle();
          };
          const aborted = () => end(() => reject(signal.reason ?? new Error('cancelled')));
          const timer = setTimeout(() => end(resolve), ms);
          wake = () => end(resolve);
          if (signal.aborted) aborted();
          else signal.addEventListener('abort', aborted);
        });
      releases.set(watch, release);
      // Heartbeats apart from the checks (a look at a reloading HAProxy may take a while): under
      // the `watching` preset's short heartbeat timeout this is how a watch on another worker
      // hears of its cancellation within about a second.
      const ticker = setInterval(() => context.heartbeat({ checks: report.checks, drifts: [...report.drifts] }), TICK_MS);
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
          if (released) return report;
          await pause(input.checkEveryMs ?? DEFAULT_CHECK_MS);
          if (released) return report;
        }
      } catch (error) {
        if (context.cancellationSignal.aborted && cancelledByWorkflow(context)) return report;
        throw error;
      } finally {
        clearInterval(ticker);
        if (releases.get(watch) === release) releases.delete(watch);
      }
    },

    /**
     * Ends the run's watch on `cluster` at once when it runs in this worker process, once its
     * look under way has finished (it then returns its report as if cancelled); the workflow has
     * cancelled it already, and a watch in another process learns of that from its next
     * heartbeat's answer instead. Returns whether a watch was found here. Safe to retry.
     */
    async releaseLoadBalancerHold(input: ReleaseLoadBalancerHoldInput): Promise<boolean> {
      const release = releases.get(watchKey(Context.current(), input.cluster));
      release?.();
      return release !== undefined;
    },
  };
}

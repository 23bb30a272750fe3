import { ActivityCancellationType, patched, proxyActivities, proxyLocalActivities, type ActivityInterfaceFor, type ActivityOptions, type LocalActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { Activities } from '../activities';
import { summarizeActivity } from './activity-summary';

/**
 * Named presets instead of ad-hoc timeouts at each call. `quick` is for reads and single Docker or
 * HAProxy commands; `preflight` gives up fast so a bad start fails before anything is touched;
 * `longRunning` is for waits and pulls that heartbeat, so a dead worker is noticed in 30s
 * while the wait itself may take many minutes (its own deadline comes from cluster config).
 * Every call made through them carries a readable summary for the UI (see activity-summary.ts).
 */
/**
 * The worker heartbeats every running activity (src/worker/liveness-heartbeat.ts): an activity
 * whose worker died is retried elsewhere after this, not after its start-to-close timeout.
 */
const LIVENESS = '15s';

/**
 * Runs recorded before this patch ran every step as an ordinary activity. Since then the steps in
 * LOCAL_STEPS run as local activities: in the worker that runs the workflow, without a round trip
 * through the server per step. Each ordinary activity costs the run a workflow task (about 15 ms
 * on the stack's server, more on a remote one) and an upgrade made some thirty of them in a row,
 * most around steps of 10 ms; a row of local activities is one workflow task
 * (bench/orchestration-overhead.ts measures the difference).
 */
export const LOCAL_STEPS_PATCH = 'quick-steps-local';

/**
 * Steps that read, or make one short change that never waits for a node, and whose retry needs no
 * checkpoint from an earlier attempt (a local activity has no heartbeat, so no heartbeat details).
 * Not here: the waits and the backups and restores (they heartbeat and may take minutes, and a
 * status query is answered only between workflow tasks); stopNode (it waits up to the node-stop
 * timeout, and the worker-kill e2e aims its kills by the server's pending activities);
 * suspendRestartPolicy (its retry reads the previous policy from the first attempt's heartbeat);
 * pruneBackups (it drops whole databases); holdLoadBalancer (a watch for as long as a human takes).
 */
export const LOCAL_STEPS: ReadonlySet<keyof Activities> = new Set<keyof Activities>([
  'checkBlackout',
  'describeCluster',
  'findLeftovers',
  'checkClusterInvariants',
  'checkDatabase',
  'checkBackupRoom',
  'imageVersion',
  'inspectImages',
  'probeNode',
  'recentWindow',
  'fleetClusters',
  'describeProcedures',
  'setMaintenanceMode',
  'setLoadBalancerServers',
  'startNode',
  'replaceNodeImage',
  'discardSavedNode',
  'restoreRestartPolicy',
  'releaseLoadBalancerHold',
  'verifyApprovalToken',
  'sendDecisionRequest',
  'sendNotification',
]);

/**
 * Runs with this patch schedule the steps that only read, wait or make one idempotent Docker or
 * HAProxy change with a 3 s heartbeat timeout (the worker heartbeats every running activity each
 * second): an activity of a killed worker is retried by another within about 3 s instead of 15 or
 * 30, which during an upgrade is 503 time. Not the steps that move data (backups, restores, pulls,
 * node commands such as migrations, pruning): a heartbeat missed by a busy but living worker would
 * start a second attempt beside the first, and two restores of one database must never run at
 * once. They keep 30 s.
 */
export const FAST_FAILOVER_PATCH = 'fast-failover';
const FAST_HEARTBEAT: Duration = '3s';
/** The longRunning steps that only wait and read: safe to retry beside a still-running attempt. */
const WAITS: ReadonlySet<keyof Activities> = new Set<keyof Activities>(['waitNodeReady', 'waitLoadBalancerServing', 'waitServersDrained']);

/**
 * What bounds the time a lost worker adds to a procedure (bench/worker-kill.ts measures it): an
 * activity of a dead worker is retried after its heartbeat timeout (plus the retry's first
 * interval); a workflow task or local activity in flight, after the workflow task timeout; the
 * next workflow task of a workflow cached by the dead worker waits on that worker's sticky queue
 * until the sticky schedule-to-start timeout. Documentation only: the values live where they are set.
 */
export const FAILOVER_TIMEOUTS: Record<string, string> = {
  'heartbeat timeout: quick and preflight steps, and the waits (fast-failover)': FAST_HEARTBEAT,
  'heartbeat timeout: steps that move data (backups, restores, pulls, node commands, pruning)': '30s',
  'heartbeat timeout: watching (the load-balancer hold)': '1500ms',
  'liveness heartbeat every (src/worker/liveness-heartbeat.ts; maxHeartbeatThrottleInterval the same)': '1s',
  'retry first interval: quick, preflight / longRunning': '1s / 2s',
  'workflow task timeout (a start option; the server default)': '10s',
  'sticky queue schedule-to-start (src/worker/create-worker.ts)': '2s',
};

const QUICK_RETRY: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 };
export const quick = summarized(
  { startToCloseTimeout: '2 minutes', heartbeatTimeout: LIVENESS, retry: QUICK_RETRY },
  { startToCloseTimeout: '2 minutes', retry: QUICK_RETRY },
  () => true,
);

const PREFLIGHT_RETRY: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 3 };
export const preflight = summarized(
  { startToCloseTimeout: '1 minute', heartbeatTimeout: LIVENESS, retry: PREFLIGHT_RETRY },
  { startToCloseTimeout: '1 minute', retry: PREFLIGHT_RETRY },
  () => true,
);

export const longRunning = summarized(
  {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '30s',
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
  },
  undefined,
  (name) => WAITS.has(name),
);

/**
 * For watches that last as long as a procedure waits (an approval may take days); cancelled when
 * the wait ends. A watch learns of that cancellation only from a heartbeat's answer, and the SDK
 * sends heartbeats at most every 80 % of the heartbeat timeout: a short timeout (the watch
 * heartbeats every 250 ms, apart from its checks) lets the load balancer change within about a
 * second of the decision instead of three. A watch that misses it is only retried.
 */
export const watching = summarized({
  startToCloseTimeout: '30 days',
  heartbeatTimeout: '1500ms',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * A cancelled activity counts as ended only once it has really stopped, so an undo that follows a
 * cancelled parallel step never races it. Runs recorded before this rule used TRY_CANCEL.
 */
function settledOnCancel(): Pick<ActivityOptions, 'cancellationType'> {
  return patched('wait-cancellation-completed') ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } : {};
}

/**
 * Activity proxies whose every call is scheduled with `summary` derived from its input; with
 * `local` options, the LOCAL_STEPS run as local activities in runs that have the patch.
 */
function summarized(options: ActivityOptions, local?: LocalActivityOptions, fastFailover: (name: keyof Activities) => boolean = () => false): ActivityInterfaceFor<Activities> {
  const activities = proxyActivities<Activities>(options);
  const locals = local ? proxyLocalActivities<Activities>(local) : undefined;
  return new Proxy(activities, {
    get(target, property, receiver) {
      const activity: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || typeof activity !== 'function') return activity;
      const name = property as keyof Activities;
      const proxied = activity as ActivityInterfaceFor<Activities>[typeof name];
      const call = (input: Parameters<Activities[typeof name]>[0]) => {
        const options = { summary: summarizeActivity(name, input), ...settledOnCancel() };
        if (locals && LOCAL_STEPS.has(name) && patched(LOCAL_STEPS_PATCH)) return locals[name].executeWithOptions(options, [input] as never);
        const failover = fastFailover(name) && patched(FAST_FAILOVER_PATCH) ? { heartbeatTimeout: FAST_HEARTBEAT } : {};
        return proxied.executeWithOptions({ ...options, ...failover }, [input] as never);
      };
      return Object.assign(call, { executeWithOptions: proxied.executeWithOptions });
    },
  });
}

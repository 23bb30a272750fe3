import { ActivityCancellationType, patched, proxyActivities, type ActivityInterfaceFor, type ActivityOptions } from '@temporalio/workflow';
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

export const quick = summarized({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: LIVENESS,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});

export const preflight = summarized({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: LIVENESS,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 3 },
});

export const longRunning = summarized({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

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

/** Activity proxies whose every call is scheduled with `summary` derived from its input. */
function summarized(options: ActivityOptions): ActivityInterfaceFor<Activities> {
  const activities = proxyActivities<Activities>(options);
  return new Proxy(activities, {
    get(target, property, receiver) {
      const activity: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || typeof activity !== 'function') return activity;
      const name = property as keyof Activities;
      const proxied = activity as ActivityInterfaceFor<Activities>[typeof name];
      const call = (input: Parameters<Activities[typeof name]>[0]) =>
        proxied.executeWithOptions({ summary: summarizeActivity(name, input), ...settledOnCancel() }, [input] as never);
      return Object.assign(call, { executeWithOptions: proxied.executeWithOptions });
    },
  });
}

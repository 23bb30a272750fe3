import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * How often a running activity tells Temporal it is alive when it says nothing itself: each second,
 * so a 3 s heartbeat timeout (FAST_FAILOVER_PATCH) leaves two seconds of margin for a busy worker.
 */
export const LIVENESS_INTERVAL_MS = 1_000;

/**
 * Heartbeats every running activity, so that a worker killed mid-activity is noticed within the
 * presets' heartbeat timeout (seconds) instead of at the start-to-close timeout (minutes, while
 * users look at the maintenance page), and so every activity learns of its cancellation.
 *
 * An activity's own heartbeat details are its checkpoint for a retry (a wait's start, a command's
 * outcome): the ticker repeats the last details the activity sent (or the previous attempt's), so
 * it never overwrites a checkpoint with nothing.
 */
export const livenessHeartbeat: ActivityInterceptorsFactory = (context: Context) => ({
  inbound: {
    async execute(input, next) {
      // A local activity runs inside its workflow's task: the workflow task's own timeout, not a
      // heartbeat, notices its worker dying.
      if (context.info.isLocal) return next(input);
      const send = context.heartbeat;
      let last: unknown = context.info.heartbeatDetails;
      const heartbeating = context as { heartbeat: (details?: unknown) => void };
      heartbeating.heartbeat = (details?: unknown) => {
        last = details;
        send(details);
      };
      const timer = setInterval(() => send(last), LIVENESS_INTERVAL_MS);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
        heartbeating.heartbeat = send;
      }
    },
  },
});

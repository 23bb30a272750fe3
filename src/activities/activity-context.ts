import { Context } from '@temporalio/activity';
import type { Hooks } from '../adapters/hooks';

/**
 * The one bridge between Temporal's activity context and the adapters, which never read it: the
 * factories call these inside an activity and hand the result down.
 */

/** Hooks bound to the running activity: progress → heartbeat, log → activity log, signal → cancellation. */
export function activityHooks(): Hooks {
  const context = Context.current();
  return {
    // A local activity (the workflows run short steps so) has no heartbeat to carry progress.
    progress: (details) => (context.info.isLocal ? undefined : context.heartbeat(details)),
    log: (level, message, meta) => context.log[level](message, meta),
    signal: context.cancellationSignal,
  };
}

/** One look of a wait: done with a value, or not yet with what to heartbeat and how to fail. */
export type Look<T> = { done: true; value: T } | { done: false; progress: Record<string, unknown>; failure: () => Error };

/**
 * Looks until `look` says done, heartbeating each look's progress and sleeping `intervalMs`
 * between looks; throws the look's failure once `timeoutMs` has passed. The clock starts at the
 * first attempt: its start is kept in the heartbeat (`startedAt`) and read back on a retry, so a
 * retried wait does not start its timeout again. Cancelling the activity ends the sleep.
 */
export async function pollUntilDeadline<T>(timeoutMs: number, intervalMs: number, look: (startedAt: number) => Promise<Look<T>>): Promise<T> {
  const context = Context.current();
  const startedAt = (context.info.heartbeatDetails as { startedAt?: number } | undefined)?.startedAt ?? Date.now();
  for (;;) {
    const step = await look(startedAt);
    if (step.done) return step.value;
    context.heartbeat({ startedAt, ...step.progress });
    if (Date.now() - startedAt >= timeoutMs) throw step.failure();
    await context.sleep(intervalMs);
  }
}

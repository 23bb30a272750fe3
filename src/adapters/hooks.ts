/**
 * What an adapter reports while it works. Adapters never read Temporal's activity context, so
 * scripts and tests can call them outside an activity; the activity factories pass hooks bound to
 * it (activities/activity-context.ts): `progress` becomes heartbeats, `log` the activity's log,
 * `signal` its cancellation.
 */
export interface Hooks {
  progress?: (details: Record<string, unknown>) => void;
  log?: (level: 'info' | 'warn', message: string, meta?: Record<string, unknown>) => void;
  /** Aborted (with the cancellation as its reason) when the work is no longer wanted. */
  signal?: AbortSignal;
}

/**
 * How often long operations report progress: often enough for any `heartbeatTimeout` preset,
 * rarely enough that a multi-gigabyte stream does not become a heartbeat per chunk.
 */
export const PROGRESS_INTERVAL_MS = 2_000;

/**
 * For work that advances in chunks (hashing, streaming): returns a function to call per chunk
 * that passes `details()` to `hooks.progress` at most once per PROGRESS_INTERVAL_MS.
 */
export function throttledProgress(hooks: Hooks): (details: () => Record<string, unknown>) => void {
  let last = Date.now();
  return (details) => {
    if (!hooks.progress || Date.now() - last < PROGRESS_INTERVAL_MS) return;
    hooks.progress(details());
    last = Date.now();
  };
}

/**
 * For work that gives no chunks to count (a child process, a container running): reports
 * `details()` every PROGRESS_INTERVAL_MS until the returned function is called.
 */
export function progressEvery(hooks: Hooks, details: () => Record<string, unknown> | Promise<Record<string, unknown>>): () => void {
  const timer = setInterval(() => {
    void Promise.resolve()
      .then(details)
      .then(
        (value) => hooks.progress?.(value),
        () => hooks.progress?.({}),
      );
  }, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}

/**
 * Rejects with the signal's reason once it is aborted, and never settles otherwise: raced
 * against a wait so that cancelling stops the waiting (the waited-for thing is cleaned up by
 * its owner).
 */
export function whenAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

import { CancellationScope, patched } from '@temporalio/workflow';

/**
 * Runs a procedure's steps so that a cancellation of the workflow (a person's cancel, a fleet's
 * abort) reaches them only before the point of no return. Before it the steps are cancelled and
 * the undo runs, as ever. After it users work on the new state: undoing loses their writes, so it
 * waits for a person, and a cancellation that left the run waiting would hang whoever sent it (a
 * fleet's abort waits for every child it cancelled). So from that point on a cancellation is only
 * noted (`note`) and the run finishes its last steps; a failure among them is handled like any
 * failure after the point. Runs recorded before this rule were cancelled anywhere, and replay so.
 */
export function cancellableUntilPointOfNoReturn<T>(passed: () => boolean, note: () => void, body: () => Promise<T>): Promise<T> {
  if (!patched('finish-after-point-of-no-return')) return body();
  const workflow = CancellationScope.current();
  // The steps' own scope hangs under a non-cancellable one, so only this listener cancels it.
  return CancellationScope.nonCancellable(() => {
    const steps = new CancellationScope();
    void workflow.cancelRequested.catch(() => (passed() ? note() : steps.cancel()));
    return steps.run(body);
  });
}

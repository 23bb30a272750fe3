import { ApplicationFailure, CancellationScope, log } from '@temporalio/workflow';
import type { CompensationOutcome } from '../common/procedure-types';

interface Undo {
  step: string;
  run: () => Promise<unknown>;
}

/**
 * The compensation stack. Each step that changes the cluster pushes its undo *before* it runs,
 * so a step that fails halfway (a container started, then the activity timed out) is undone too;
 * every undo is idempotent, so undoing something that never happened is harmless.
 */
export class Saga {
  private readonly stack: Undo[] = [];

  push(step: string, run: () => Promise<unknown>): void {
    this.stack.push({ step, run });
  }

  get size(): number {
    return this.stack.length;
  }

  /**
   * Runs the undos newest first, each to completion even if an earlier one failed. Runs in a
   * non-cancellable scope: cancelling the workflow must not cancel its own cleanup. Failures are
   * returned (and logged) for the caller to report, never swallowed.
   */
  async compensate(): Promise<CompensationOutcome[]> {
    return CancellationScope.nonCancellable(async () => {
      const outcomes: CompensationOutcome[] = [];
      while (this.stack.length > 0) {
        const undo = this.stack.pop() as Undo;
        try {
          await undo.run();
          outcomes.push({ step: undo.step, ok: true });
        } catch (error) {
          const message = describeFailure(error);
          log.error('compensation failed', { step: undo.step, error: message });
          outcomes.push({ step: undo.step, ok: false, error: message });
        }
      }
      return outcomes;
    });
  }
}

/** The innermost ApplicationFailure's type, which is what a procedure's failure is named after. */
export function failureType(error: unknown): string {
  let current: unknown = error;
  let type = 'UnexpectedError';
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.type) type = current.type;
    current = (current as { cause?: unknown }).cause;
  }
  return type;
}

/** The innermost cause's message: an ActivityFailure's own message only says "activity failed". */
export function describeFailure(error: unknown): string {
  let current: unknown = error;
  let message = String(error);
  while (current instanceof Error) {
    message = current.message;
    current = (current as { cause?: unknown }).cause;
  }
  return message;
}

import { ApplicationFailure, CancellationScope, log, patched, sleep } from '@temporalio/workflow';
import type { CompensationOutcome } from '../common/procedure-types';

/**
 * What an undo makes true again, so that other undos can say they need it: nodes never start on
 * data that was not restored, traffic never comes back to nodes that are not the old version.
 */
export type Restores = 'stopped' | 'data' | 'storage' | 'images' | 'serving';

export interface UndoOptions {
  restores?: Restores;
  /** Undos that must have succeeded first; when one failed, this one is not run. */
  needs?: Restores[];
  /**
   * Set when running this undo destroys something people made since (writes on a node that
   * served users): it runs only once an operator confirmed the loss in words they were shown.
   */
  losesData?: string;
}

type UndoState = 'pending' | 'done' | 'failed' | 'blocked' | 'unconfirmed';

interface Undo extends UndoOptions {
  step: string;
  run: () => Promise<unknown>;
  state: UndoState;
  error?: string;
}

/** How long and how often a failing undo is tried again before a person is asked. */
export interface RetryBudget {
  deadlineMs: number;
  dataLossConfirmed: boolean;
}

/**
 * The compensation stack. Each step that changes the cluster pushes its undo *before* it runs,
 * so a step that fails halfway (a container started, then the activity timed out) is undone too;
 * every undo is idempotent, so undoing something that never happened is harmless.
 */
export class Saga {
  private readonly stack: Undo[] = [];

  push(step: string, run: () => Promise<unknown>, options: UndoOptions = {}): void {
    this.stack.push({ step, run, state: 'pending', ...options });
  }

  /** From now on every undo already pushed waits for an operator's confirmation before it runs. */
  requireConfirmation(why: string): void {
    for (const undo of this.stack) undo.losesData ??= why;
  }

  get size(): number {
    return this.stack.length;
  }

  /** Undos that failed, could not run for want of another, or wait for a confirmation. */
  get unfinished(): CompensationOutcome[] {
    return this.outcomes().filter((outcome) => !outcome.ok);
  }

  /** Whether an undo ran and failed (as opposed to not having run for want of a confirmation). */
  get anyFailed(): boolean {
    return this.stack.some((undo) => undo.state === 'failed');
  }

  /** Whether an unfinished undo waits for someone to confirm the data it loses. */
  get awaitsConfirmation(): string | undefined {
    return this.stack.find((undo) => undo.state === 'unconfirmed')?.losesData;
  }

  /** Every undo's last outcome, newest first (the order they run in). */
  outcomes(): CompensationOutcome[] {
    return [...this.stack].reverse().flatMap((undo): CompensationOutcome[] => {
      if (undo.state === 'done') return [{ step: undo.step, ok: true }];
      if (undo.state === 'pending') return [];
      return [{ step: undo.step, ok: false, error: undo.error ?? undo.state }];
    });
  }

  /**
   * Runs every undo not yet done, newest first, in a non-cancellable scope (cancelling the
   * workflow must not cancel its own cleanup). An undo whose needs were not restored is not run
   * and says which undo it waits for; a transient failure is tried again with backoff until the
   * budget's deadline. Callable again after a person fixed the cause: what is done stays done.
   */
  async compensate(budget: RetryBudget): Promise<CompensationOutcome[]> {
    return CancellationScope.nonCancellable(async () => {
      const until = Date.now() + budget.deadlineMs;
      // An undo whose need is restored by one further down the stack (a failure while the other
      // nodes start: their "put back" needs node-1 stopped, pushed earlier) runs that one first
      // instead of being blocked. Runs recorded before this rule replay as they ran.
      const needsFirst = patched('undo-needs-first');
      const tried = new Set<Undo>();
      for (const undo of [...this.stack].reverse()) await this.settle(undo, budget, until, needsFirst ? tried : undefined);
      return this.outcomes();
    });
  }

  /** Runs `undo` unless done or tried in this pass; with `tried`, first the pending undos it needs. */
  private async settle(undo: Undo, budget: RetryBudget, until: number, tried: Set<Undo> | undefined): Promise<void> {
    if (undo.state === 'done' || tried?.has(undo)) return;
    tried?.add(undo);
    if (tried) {
      for (const need of undo.needs ?? []) {
        for (const provider of [...this.stack].reverse()) {
          if (provider !== undo && provider.restores === need) await this.settle(provider, budget, until, tried);
        }
      }
    }
    const missing = this.unmet(undo);
    if (missing) {
      undo.state = 'blocked';
      undo.error = `not run: needs ${missing}`;
      return;
    }
    if (undo.losesData && !budget.dataLossConfirmed) {
      undo.state = 'unconfirmed';
      undo.error = `not run until an operator confirms: ${undo.losesData}`;
      return;
    }
    await this.runWithRetries(undo, until);
  }

  /** The first undo this one needs that did not succeed, in words, or undefined. */
  private unmet(undo: Undo): string | undefined {
    for (const need of undo.needs ?? []) {
      const provider = this.stack.find((other) => other.restores === need && other.state !== 'done');
      if (provider) return `"${provider.step}", which ${provider.state === 'pending' ? 'has not run' : 'did not succeed'}`;
    }
    return undefined;
  }

  private async runWithRetries(undo: Undo, until: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await undo.run();
        undo.state = 'done';
        delete undo.error;
        return;
      } catch (error) {
        const message = describeFailure(error);
        const retryable = !isPermanent(error) && Date.now() < until;
        log.error('compensation failed', { step: undo.step, error: message, attempt, retrying: retryable });
        if (!retryable) {
          undo.state = 'failed';
          undo.error = message;
          return;
        }
        // A dockerd restart or a database failover lasts about a minute: back off, then again.
        await sleep(Math.min(30_000, 2_000 * 2 ** Math.min(attempt - 1, 4)));
      }
    }
  }
}

/** A failure retrying cannot fix: an ApplicationFailure marked non-retryable anywhere in the chain. */
function isPermanent(error: unknown): boolean {
  let current: unknown = error;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.nonRetryable) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
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

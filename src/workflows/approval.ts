import { condition, setHandler } from '@temporalio/workflow';
import type { TimeoutPolicy } from '../procedures/approval-input';
import { approveSignal, decideUpdate, rejectSignal, type ApprovalStatus, type Decision, type RecordedDecision } from './messages';

/**
 * The human decision as an explicit state machine: not-requested → awaiting → approved | rejected
 * | timed-out. Handlers are registered when the workflow starts, so a signal that comes too early
 * or from someone not on the allowlist is recorded in the status and ignored, never lost silently.
 */
export class Approval {
  readonly status: ApprovalStatus;

  constructor(approvers: string[] = []) {
    this.status = { state: 'not-requested', approvers, ignored: [] };
    setHandler(approveSignal, (input) => this.offer({ decision: 'approve', by: input?.by, ...(input?.comment ? { comment: input.comment } : {}) }, 'signal'));
    setHandler(rejectSignal, (input) => this.offer({ decision: 'reject', by: input?.by, ...(input?.reason ? { reason: input.reason } : {}) }, 'signal'));
    setHandler(decideUpdate, (input) => this.accept(input, 'update'), { validator: (input) => this.validate(input) });
  }

  /** The allowlist arrives with the cluster plan, after the handlers exist. */
  allow(approvers: string[]): void {
    this.status.approvers = approvers;
  }

  /** Why a decision cannot be taken now, or undefined when it can. */
  refusal(input: Partial<Decision> | undefined): string | undefined {
    if (!input || (input.decision !== 'approve' && input.decision !== 'reject')) return 'expected {"decision": "approve" | "reject", "by": "<who>"}';
    if (typeof input.by !== 'string' || input.by.trim() === '') return 'a decision must say who makes it ("by")';
    if (this.status.state !== 'awaiting') return `nothing awaits a decision (approval is ${this.status.state})`;
    const { approvers } = this.status;
    if (approvers.length > 0 && !approvers.includes(input.by)) return `${input.by} is not an approver of this cluster (approvers: ${approvers.join(', ')})`;
    return undefined;
  }

  /** Update validator: refuses at once, so the CLI user sees why and nothing enters history. */
  validate(input: Decision): void {
    const refusal = this.refusal(input);
    if (refusal) throw new Error(refusal);
  }

  /**
   * From now on a decision is taken. Opened together with the status saying "waiting for a
   * decision", so an operator who reads that and decides at once is never told nothing awaits.
   */
  open(): void {
    if (this.status.state === 'not-requested') this.status.state = 'awaiting';
  }

  /**
   * Waits for the decision (one may already have come since `open`); `timeoutMs` undefined
   * waits forever.
   */
  async wait(timeoutMs: number | undefined, onTimeout: TimeoutPolicy): Promise<ApprovalStatus['state']> {
    this.open();
    const decided = () => this.status.state !== 'awaiting';
    if (onTimeout === 'wait' || timeoutMs === undefined) {
      await condition(decided);
    } else if (!(await condition(decided, timeoutMs))) {
      this.status.state = onTimeout === 'proceed' ? 'approved' : 'timed-out';
      this.status.decision = { decision: onTimeout === 'proceed' ? 'approve' : 'reject', by: 'timeout', at: now(), via: 'timeout' };
    }
    return this.status.state;
  }

  private offer(input: Partial<Decision>, via: 'signal'): void {
    const refusal = this.refusal(input);
    if (refusal) {
      this.status.ignored.push({ decision: input.decision ?? 'approve', by: String(input.by ?? '(nobody)'), at: now(), why: refusal });
      return;
    }
    this.accept(input as Decision, via);
  }

  private accept(input: Decision, via: 'signal' | 'update'): RecordedDecision {
    const decision: RecordedDecision = { ...input, at: now(), via };
    this.status.decision = decision;
    this.status.state = input.decision === 'approve' ? 'approved' : 'rejected';
    return decision;
  }
}

function now(): string {
  return new Date(Date.now()).toISOString();
}

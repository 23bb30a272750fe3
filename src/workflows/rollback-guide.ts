import { ApplicationFailure, condition, setHandler, workflowInfo } from '@temporalio/workflow';
import type { DecisionKind, TokenClaims } from '../common/approval-token';
import type { CompensationOutcome } from '../common/procedure-types';
import type { Approval } from './approval';
import { abandonUpdate, retryRollbackUpdate, type ProcedureStatus, type RollbackDecision, type RollbackStatus, type TakenRollbackDecision } from './messages';
import { notify, requestSigned } from './notify';

type Action = 'retryRollback' | 'abandon';

/**
 * Guided failure: when an undo could not finish (or would destroy data people wrote), the
 * procedure does not close. It says exactly what is unfinished and in what state the nodes are,
 * mails the recipients, and waits for an operator's `retryRollback` (after fixing the cause) or
 * `abandon` (leave things as they are), each with who and why. Both are updates, so a refusal
 * (nothing waits, no name, data loss not confirmed, not an approver) reaches the caller at once.
 */
export class RollbackGuide {
  private pending: { action: Action; decision: TakenRollbackDecision } | undefined;
  private waiting = false;

  /**
   * In signed mode (`approval.signedOnly`) each decision takes a token mailed with the
   * rollback-blocked mail for that kind (retryRollback, confirmDataLoss, abandon), as the decision
   * at verify does: the most destructive decisions are guarded at least as well as the approval.
   */
  constructor(
    private readonly status: ProcedureStatus,
    private readonly approval: Approval,
  ) {
    setHandler(retryRollbackUpdate, (decision) => this.take('retryRollback', decision), { validator: (decision) => this.validate('retryRollback', decision) });
    setHandler(abandonUpdate, (decision) => this.take('abandon', decision), { validator: (decision) => this.validate('abandon', decision) });
  }

  /** Records the undo's state in the status, asks the recipients, and waits for a person. */
  async ask(cluster: string, unfinished: CompensationOutcome[], dataLoss: string | undefined): Promise<{ action: Action; decision: TakenRollbackDecision }> {
    const rollback = this.rollback();
    rollback.state = 'blocked';
    rollback.unfinished = unfinished;
    if (dataLoss) rollback.dataLoss = dataLoss;
    else delete rollback.dataLoss;
    this.status.outcome = 'rollback-blocked';
    this.status.waitingFor = dataLoss
      ? `an operator: retryRollback with "confirmDataLoss": true to undo (${dataLoss}), or abandon`
      : 'an operator: fix what the rollback names, then retryRollback; or abandon';
    this.waiting = true;
    const subject = dataLoss ? 'undo waits for your confirmation' : 'ROLLBACK BLOCKED: a person is needed';
    if (this.approval.signedOnly) {
      const kinds: DecisionKind[] = dataLoss ? ['confirmDataLoss', 'abandon'] : ['retryRollback', 'abandon'];
      await requestSigned(cluster, subject, blockedMail(this.status, true), kinds);
      // A blocked rollback may wait longer than a token lives: new tokens go out before the last
      // ones expire, so the cluster never waits for a decision nobody can take any more.
      const renewEvery = renewal(this.approval.policy?.linkTtlMs);
      while (!(await condition(() => this.pending !== undefined, renewEvery))) {
        await requestSigned(cluster, `${subject} (new tokens: the earlier ones expire)`, blockedMail(this.status, true), kinds);
      }
    } else {
      await notify(cluster, subject, blockedMail(this.status, false), 'recipients');
    }
    await condition(() => this.pending !== undefined);
    const taken = this.pending!;
    this.pending = undefined;
    this.waiting = false;
    delete this.status.waitingFor;
    rollback.state = taken.action === 'abandon' ? 'abandoned' : 'retrying';
    this.status.outcome = 'compensating';
    return taken;
  }

  /** The undo finished after a person's help: the status says so. */
  finished(): void {
    if (this.status.rollback) this.status.rollback.state = 'finished';
  }

  private rollback(): RollbackStatus {
    this.status.rollback ??= { state: 'blocked', unfinished: [], attempts: 0, decisions: [] };
    return this.status.rollback;
  }

  private validate(action: Action, decision: RollbackDecision | undefined): void {
    const judged = this.judge(action, decision);
    if ('refusal' in judged) throw new Error(judged.refusal);
  }

  /** Why the decision cannot be taken now (no key needed), or who takes it (open mode) or the token's claims. */
  private judge(action: Action, decision: RollbackDecision | undefined): { refusal: string } | { by: string } | { claims: TokenClaims; token: string } {
    const refuse = (refusal: string) => ({ refusal });
    if (!this.waiting || this.pending) return refuse(`nothing waits for ${action}: the procedure is ${this.status.outcome} at step ${this.status.step}`);
    if (action === 'abandon' && !decision?.reason?.trim()) return refuse('abandon must say why ("reason"): the cluster stays as the status describes it');
    const dataLoss = this.status.rollback?.dataLoss;
    if (action === 'retryRollback' && dataLoss && decision?.confirmDataLoss !== true) {
      return refuse(`the next undo loses data (${dataLoss}): send "confirmDataLoss": true to accept it, or abandon`);
    }
    if (this.approval.signedOnly) {
      const kind: DecisionKind = action === 'abandon' ? 'abandon' : dataLoss ? 'confirmDataLoss' : 'retryRollback';
      const judged = this.approval.judgeToken(decision?.token, kind);
      return 'refusal' in judged ? judged : { claims: judged.claims, token: decision!.token! };
    }
    if (typeof decision?.by !== 'string' || decision.by.trim() === '') return refuse(`${action} must say who decides ("by")`);
    if (!this.approval.isApprover(decision.by)) return refuse(`${decision.by} may not decide on this cluster's rollback`);
    return { by: decision.by };
  }

  private async take(action: Action, decision: RollbackDecision): Promise<RollbackStatus> {
    const judged = this.judge(action, decision);
    if ('refusal' in judged) throw ApplicationFailure.nonRetryable(judged.refusal, 'DecisionRefused');
    let by: string;
    if ('claims' in judged) {
      by = await this.approval.redeem(judged.token, judged.claims, action);
      if (!this.waiting || this.pending) throw ApplicationFailure.nonRetryable(`nothing waits for ${action} any more`, 'DecisionRefused');
    } else {
      by = judged.by;
    }
    // The token decided once and is never recorded: only who, what and why.
    const taken: TakenRollbackDecision = {
      by,
      ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
      ...(decision.confirmDataLoss !== undefined ? { confirmDataLoss: decision.confirmDataLoss } : {}),
    };
    const rollback = this.rollback();
    rollback.decisions.push({ ...taken, action, at: new Date(Date.now()).toISOString() });
    if (action === 'retryRollback') rollback.attempts += 1;
    this.pending = { action, decision: taken };
    return rollback;
  }
}

/** When to mail new tokens: a little before the mailed ones expire (`approvals.linkTtl`, 24 h by default). */
function renewal(linkTtlMs: number | undefined): number {
  const ttl = linkTtlMs ?? 86_400_000;
  return Math.max(10_000, ttl - Math.min(ttl / 10, 3_600_000));
}

function blockedMail(status: ProcedureStatus, signed: boolean): string {
  const { namespace, workflowId, runId } = workflowInfo();
  const target = `--namespace ${namespace} --workflow-id ${workflowId} --run-id ${runId}`;
  const rollback = status.rollback!;
  return [
    `The ${status.procedure} of ${status.cluster} failed at step ${status.step}${status.error ? ` (${status.error.type}: ${status.error.message})` : ''}.`,
    rollback.dataLoss ? `The next undo loses data: ${rollback.dataLoss}.` : 'Undoing it could not finish; nothing that depends on the failed undo was run.',
    '',
    'Not undone:',
    ...rollback.unfinished.map((outcome) => `  - ${outcome.step}: ${outcome.error}`),
    'Nodes:',
    ...Object.entries(status.nodes).map(([name, node]) => `  - ${name}: ${node.state}${node.image ? ` on ${node.image}` : ''}`),
    ...(status.backup ? [`Backup: ${status.backup.method} at ${status.backup.location}`] : []),
    '',
    // Signed mode: each approver's copy adds the commands with their own tokens.
    ...(signed
      ? ['Once the cause is fixed, undo the rest with your token below (retryRollback); or leave the cluster exactly as described above and close the procedure (abandon, with a reason).']
      : [
          'Once the cause is fixed, undo the rest:',
          `  temporal workflow update execute ${target} --name retryRollback --input '{"by":"<you>"${rollback.dataLoss ? ',"confirmDataLoss":true' : ''}}'`,
          'Or leave the cluster exactly as described above and close the procedure:',
          `  temporal workflow update execute ${target} --name abandon --input '{"by":"<you>","reason":"<why>"}'`,
        ]),
  ].join('\n');
}

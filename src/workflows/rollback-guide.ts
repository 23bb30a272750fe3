import { condition, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CompensationOutcome } from '../common/procedure-types';
import { abandonUpdate, retryRollbackUpdate, type ProcedureStatus, type RollbackDecision, type RollbackStatus } from './messages';
import { notify } from './notify';

type Action = 'retryRollback' | 'abandon';

/**
 * Guided failure: when an undo could not finish (or would destroy data people wrote), the
 * procedure does not close. It says exactly what is unfinished and in what state the nodes are,
 * mails the recipients, and waits for an operator's `retryRollback` (after fixing the cause) or
 * `abandon` (leave things as they are), each with who and why. Both are updates, so a refusal
 * (nothing waits, no name, data loss not confirmed, not an approver) reaches the caller at once.
 */
export class RollbackGuide {
  private pending: { action: Action; decision: RollbackDecision } | undefined;
  private waiting = false;

  constructor(
    private readonly status: ProcedureStatus,
    private readonly approvers: () => string[],
  ) {
    setHandler(retryRollbackUpdate, (decision) => this.take('retryRollback', decision), { validator: (decision) => this.validate('retryRollback', decision) });
    setHandler(abandonUpdate, (decision) => this.take('abandon', decision), { validator: (decision) => this.validate('abandon', decision) });
  }

  /** Records the undo's state in the status, asks the recipients, and waits for a person. */
  async ask(cluster: string, unfinished: CompensationOutcome[], dataLoss: string | undefined): Promise<{ action: Action; decision: RollbackDecision }> {
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
    await notify(cluster, dataLoss ? 'undo waits for your confirmation' : 'ROLLBACK BLOCKED: a person is needed', blockedMail(this.status), 'recipients');
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
    if (!this.waiting || this.pending) throw new Error(`nothing waits for ${action}: the procedure is ${this.status.outcome} at step ${this.status.step}`);
    if (typeof decision?.by !== 'string' || decision.by.trim() === '') throw new Error(`${action} must say who decides ("by")`);
    const approvers = this.approvers();
    if (approvers.length > 0 && !approvers.includes(decision.by)) throw new Error(`${decision.by} may not decide on this cluster's rollback`);
    if (action === 'abandon' && !decision.reason?.trim()) throw new Error('abandon must say why ("reason"): the cluster stays as the status describes it');
    if (action === 'retryRollback' && this.status.rollback?.dataLoss && decision.confirmDataLoss !== true) {
      throw new Error(`the next undo loses data (${this.status.rollback.dataLoss}): send "confirmDataLoss": true to accept it, or abandon`);
    }
  }

  private take(action: Action, decision: RollbackDecision): RollbackStatus {
    const rollback = this.rollback();
    rollback.decisions.push({ ...decision, action, at: new Date(Date.now()).toISOString() });
    if (action === 'retryRollback') rollback.attempts += 1;
    this.pending = { action, decision };
    return rollback;
  }
}

function blockedMail(status: ProcedureStatus): string {
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
    'Once the cause is fixed, undo the rest:',
    `  temporal workflow update execute ${target} --name retryRollback --input '{"by":"<you>"${rollback.dataLoss ? ',"confirmDataLoss":true' : ''}}'`,
    'Or leave the cluster exactly as described above and close the procedure:',
    `  temporal workflow update execute ${target} --name abandon --input '{"by":"<you>","reason":"<why>"}'`,
  ].join('\n');
}

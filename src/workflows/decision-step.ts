import { ApplicationFailure, patched, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { NotificationOutcome } from '../common/procedure-types';
import type { Approval } from './approval';
import type { ApprovalPolicy } from '../procedures/approval-input';
import { boundedPolicy } from '../procedures/approval-policy';
import { quick } from './activity-options';
import { notify } from './notify';
import { decisionRequest } from './procedure-mail';
import type { ProcedureTracker } from './procedure-tracker';
import { describeFailure } from './saga';

export interface DecisionRequest {
  cluster: string;
  /** What is to be decided, e.g. "node-1 on nocobase:1.7.0". */
  subject: string;
  /** The automated checks' findings, one line each, for the mail. */
  summary: string[];
  onApprove: string;
  onReject: string;
  /** The failure type a rejection becomes, so the procedure's undo runs. */
  rejectedType: FailureType;
}

/**
 * Asks the approvers (by mail, with the exact commands, and each approver's signed links when the
 * worker can sign them) and waits for the decision under the policy. A rejection or a timeout
 * under `rollback` throws, so the caller's saga undoes its work.
 */
export async function awaitDecision(request: DecisionRequest, approval: Approval, policy: ApprovalPolicy, tracker: ProcedureTracker): Promise<void> {
  tracker.waitingFor(`a decision: approve or reject ${request.subject}`);
  const rules = approval.policy;
  const bounded = boundedPolicy(policy, rules);
  if (rules) approval.status.request = { subject: request.subject, summary: request.summary, onApprove: request.onApprove, onReject: request.onReject };
  // Open before the mail goes out: the status already says a decision is awaited. Runs that
  // were waiting on the mail when this changed opened only after it, and replay them so.
  if (patched('approval-open-before-mail')) approval.open();
  const subject = `${request.subject} awaits your decision`;
  const text = decisionRequest(workflowInfo(), request.summary, request.onApprove, request.onReject, rules?.mode ?? 'open');
  // Plans recorded before clusters had a policy carry none: those runs mail as they did.
  if (rules?.links && patched('approval-signed-links')) {
    await quick
      .sendDecisionRequest({ cluster: request.cluster, subject, text, kinds: ['approve', 'reject'], ...(bounded.timeoutMs === undefined ? {} : { validForMs: bounded.timeoutMs }) })
      .catch((error: unknown): NotificationOutcome => ({ sent: false, recipients: [], reason: describeFailure(error) }));
  } else {
    await notify(request.cluster, subject, text, 'approvers');
  }
  tracker.metrics.waitingForPerson('approval', bounded.onTimeout === 'wait' ? undefined : bounded.timeoutMs);
  const state = await approval.wait(bounded.timeoutMs, bounded.onTimeout);
  tracker.metrics.personAnswered('approval');
  tracker.waitingFor(undefined);
  if (state === 'rejected') {
    const decision = approval.status.decision;
    throw ApplicationFailure.nonRetryable(`rejected by ${decision?.by}${decision?.reason ? `: ${decision.reason}` : ''}`, request.rejectedType);
  }
  if (state === 'timed-out') throw ApplicationFailure.nonRetryable('nobody decided within the approval timeout', FailureType.ApprovalTimedOut);
}

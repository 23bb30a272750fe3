import { FailureType } from '../common/failure-types';
import { approvalsNeeded, type ApprovalPolicyPlan, type ClusterPlan } from '../common/procedure-types';
import type { ApprovalPolicy } from './approval-input';
import type { Problem } from './descriptor';

/**
 * What a cluster's approval policy (`approval:` in the configuration) refuses in a start, judged
 * by the pre-flight (and listed by the dry run) before anything changes. Plans recorded before
 * clusters had a policy carry none: nothing is refused then, as before.
 */
export function approvalPolicyProblems(plan: Pick<ClusterPlan, 'cluster' | 'approvers' | 'approvalPolicy'>, input: { policy: ApprovalPolicy; startedBy?: string | undefined }): Problem[] {
  const rules = plan.approvalPolicy;
  if (!rules) return [];
  const { cluster } = plan;
  const problems: Problem[] = [];
  const refuse = (message: string, type = FailureType.InvalidInput) => problems.push({ type, message });
  if (input.policy.onTimeout === 'proceed' && !rules.allowProceedOnTimeout) {
    refuse(`"approval.onTimeout": "proceed" is not allowed on ${cluster}: it would go on without any human decision, and the cluster's approval policy does not set allowProceedOnTimeout; use "rollback" (the default) or "wait"`);
  }
  if (input.policy.onTimeout === 'wait' && rules.maxApprovalWaitMs !== undefined) {
    refuse(`"approval.onTimeout": "wait" is not allowed on ${cluster}: its approval policy waits at most maxApprovalWait (${rules.maxApprovalWaitMs / 1000} s); use "rollback"`);
  }
  // No refusal without "startedBy" (a maintenance window names nobody): the rule needs two
  // distinct signed approvals whoever started the run.
  if (rules.twoPersonRule && rules.mode !== 'signed') {
    refuse(`${cluster} has the two-person rule but takes decisions in open mode, where one person can type two names: set its approval mode to signed`, FailureType.Misconfigured);
  }
  if (rules.mode === 'signed' && !rules.links) {
    refuse(`${cluster} takes only signed approvals, but the worker's configuration has no "approvals:" section (signing keys and page URL) to mail the links with`, FailureType.Misconfigured);
  }
  const needed = approvalsNeeded(rules);
  if (plan.approvers.length > 0 && needed > plan.approvers.length) {
    refuse(`${cluster} needs ${needed} distinct approvals${rules.twoPersonRule ? ' (the two-person rule)' : ''} but lists only ${plan.approvers.length} approver(s)`, FailureType.Misconfigured);
  }
  return problems;
}

/** The approval wait under the cluster's policy: no longer than `maxApprovalWait`. */
export function boundedPolicy(policy: ApprovalPolicy, rules: ApprovalPolicyPlan | undefined): ApprovalPolicy {
  const max = rules?.maxApprovalWaitMs;
  if (max === undefined || policy.timeoutMs === undefined || policy.timeoutMs <= max) return policy;
  return { ...policy, timeoutMs: max };
}

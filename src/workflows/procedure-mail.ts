import type { WorkflowInfo } from '@temporalio/workflow';
import type { ProcedureStatus } from './messages';
import { describeFailure, failureType } from './saga';

/** The mail that asks for a decision: what was checked, and the exact commands to decide. */
export function decisionRequest(info: WorkflowInfo, summary: string[], onApprove: string, onReject: string): string {
  const target = `--namespace ${info.namespace} --workflow-id ${info.workflowId}`;
  return [
    ...summary,
    '',
    `Approve (${onApprove}):`,
    `  temporal workflow signal ${target} --name approve --input '{"by":"<you>","comment":"<why>"}'`,
    `Reject (${onReject}):`,
    `  temporal workflow signal ${target} --name reject --input '{"by":"<you>","reason":"<why>"}'`,
    'Or, to be told at once if your decision is refused:',
    `  temporal workflow update execute ${target} --name decide --input '{"decision":"approve","by":"<you>"}'`,
  ].join('\n');
}

/** The closing mail: outcome, backup, decision, what was undone and each step's times. */
export function outcomeReport(headline: string, status: ProcedureStatus, error?: unknown): string {
  const lines = [headline];
  if (error !== undefined) lines.push(`Why: ${failureType(error)} at step ${status.step}: ${describeFailure(error)}`);
  if (status.backup) {
    lines.push(`Backup: ${status.backup.method} of ${status.backup.database}, ${status.backup.sizeBytes} bytes, at ${status.backup.location}${status.backup.checksum ? `, sha256 ${status.backup.checksum}` : ''}.`);
  }
  const decision = status.approval?.decision;
  if (decision) lines.push(`Decision: ${decision.decision} by ${decision.by} at ${decision.at} (${decision.via})${decision.comment ? `: ${decision.comment}` : ''}${decision.reason ? `: ${decision.reason}` : ''}.`);
  if (status.compensations) {
    lines.push('Undone:', ...status.compensations.map((outcome) => `  - ${outcome.step}: ${outcome.ok ? 'done' : `FAILED: ${outcome.error}`}`));
  }
  lines.push('Steps:', ...status.steps.map((step) => `  - ${step.step}: ${step.startedAt} .. ${step.endedAt ?? 'not finished'}`));
  return lines.join('\n');
}

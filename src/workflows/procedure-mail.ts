import type { WorkflowInfo } from '@temporalio/workflow';
import type { ProcedureStatus, RecordedDecision } from './messages';
import { describeFailure, failureType } from './saga';

/**
 * The mail that asks for a decision: what was checked, and the exact commands to decide, each
 * bound to this run (`--run-id`): an old mail's command cannot decide a later run. In `signed`
 * mode the commands need the token each approver's copy carries (added by sendDecisionRequest).
 */
export function decisionRequest(info: WorkflowInfo, summary: string[], onApprove: string, onReject: string, mode: 'open' | 'signed' = 'open'): string {
  const target = `--namespace ${info.namespace} --workflow-id ${info.workflowId} --run-id ${info.runId}`;
  if (mode === 'signed') {
    return [
      ...summary,
      '',
      `Approve: ${onApprove}.`,
      `Reject: ${onReject}.`,
      'Decide with the links in your copy of this mail (or their token on the CLI); a decision without a token is refused.',
    ].join('\n');
  }
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
  const audit = status.approval?.audit ?? [];
  if (audit.length > 0) {
    lines.push('Decisions:', ...audit.map((entry) => `  - ${entry.decision} by ${entry.by} at ${entry.at}, ${channelWords(entry)}${entry.comment ? `: ${entry.comment}` : ''}${entry.reason ? `: ${entry.reason}` : ''}`));
  } else if (decision) {
    lines.push(`Decision: ${decision.decision} by ${decision.by} at ${decision.at} (${decision.via})${decision.comment ? `: ${decision.comment}` : ''}${decision.reason ? `: ${decision.reason}` : ''}.`);
  }
  if (status.compensations) {
    lines.push('Undone:', ...status.compensations.map((outcome) => `  - ${outcome.step}: ${outcome.ok ? 'done' : `FAILED: ${outcome.error}`}`));
  }
  const window = maintenanceWindowMs(status.steps);
  if (window !== undefined) lines.push(`Maintenance page shown for ${(window / 1000).toFixed(1)} s (from the switch to the page until traffic was back).`);
  lines.push('Steps:', ...status.steps.map((step) => `  - ${step.step}: ${step.startedAt} .. ${step.endedAt ?? 'not finished'} (${durationOf(step)})`));
  return lines.join('\n');
}

/** The audit's "how": which channel authorized the decision, and with which token. */
function channelWords(entry: RecordedDecision): string {
  const token = entry.tokenId ? ` (token ${entry.tokenId})` : '';
  switch (entry.how) {
    case 'link':
      return `from the mailed link${token}`;
    case 'token':
      return `with the mailed token on the CLI${token}`;
    case 'timeout':
      return 'by the approval timeout';
    default:
      return `by name in open mode (${entry.via})`;
  }
}

type StepTimes = { step: string; startedAt: string; endedAt?: string };

function durationOf(step: StepTimes): string {
  return step.endedAt ? `${((Date.parse(step.endedAt) - Date.parse(step.startedAt)) / 1000).toFixed(1)} s` : 'running';
}

/**
 * How long users saw the 503 page, as the procedure measured it: from the start of the
 * maintenance-page step to the end of the step that gave traffic back (a rollback's undo included).
 */
export function maintenanceWindowMs(steps: StepTimes[], until?: string): number | undefined {
  const from = steps.find((step) => step.step === 'maintenance-page');
  const to = [...steps].reverse().find((step) => step.step === 'restore-traffic')?.endedAt ?? until;
  return from && to ? Date.parse(to) - Date.parse(from.startedAt) : undefined;
}

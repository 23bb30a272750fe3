import type { WorkflowInfo } from '@temporalio/workflow';
import type { NodeReadiness } from '../common/procedure-types';
import type { ProcedureStatus } from './messages';
import { describeFailure, failureType } from './saga';

/** The mail that asks for a decision: what was checked, and the exact commands to decide. */
export function decisionRequest(info: WorkflowInfo, node: string, image: string, smoke: NodeReadiness | undefined): string {
  const target = `--namespace ${info.namespace} --workflow-id ${info.workflowId}`;
  const plugins = smoke?.plugins ? `${smoke.plugins.builtInReady}/${smoke.plugins.builtIn} built-in plugins enabled` : 'plugins not read';
  return [
    `${node} now runs ${image} and passed the automated checks:`,
    `  health 200, recorded application version ${smoke?.version ?? 'unknown'}, ${plugins}.`,
    'The other nodes are stopped and the load balancer shows the maintenance page.',
    '',
    'Approve (the other nodes are upgraded and traffic comes back):',
    `  temporal workflow signal ${target} --name approve --input '{"by":"<you>","comment":"<why>"}'`,
    'Reject (image and data are rolled back to before the upgrade):',
    `  temporal workflow signal ${target} --name reject --input '{"by":"<you>","reason":"<why>"}'`,
    'Or, to be told at once if your decision is refused:',
    `  temporal workflow update execute ${target} --name decide --input '{"decision":"approve","by":"<you>"}'`,
  ].join('\n');
}

/** The closing mail: outcome, backup, decision, and what was undone. */
export function outcomeReport(report: { cluster: string; image: string; outcome: 'upgraded' | 'rolled-back'; status: ProcedureStatus; error?: unknown }): string {
  const { status } = report;
  const lines = [
    report.outcome === 'upgraded' ? `${report.cluster} now runs ${report.image} on every node.` : `The upgrade of ${report.cluster} to ${report.image} was rolled back.`,
  ];
  if (report.error !== undefined) lines.push(`Why: ${failureType(report.error)} at step ${status.step}: ${describeFailure(report.error)}`);
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

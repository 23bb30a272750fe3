import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import { procedureWorkflowId } from '../common/task-queue';

/**
 * Procedures on a cluster run under one workflow ID so Temporal itself refuses a second one while
 * the first runs. A start under another ID would lose that guarantee, so it is refused.
 */
export function checkWorkflowId(cluster: string): void {
  const expected = procedureWorkflowId(cluster);
  const actual = workflowInfo().workflowId;
  if (actual !== expected) {
    throw ApplicationFailure.nonRetryable(
      `start procedures on cluster "${cluster}" with workflow ID "${expected}" (got "${actual}"), so that Temporal refuses a second procedure on this cluster while one runs`,
      FailureType.InvalidWorkflowId,
    );
  }
}

/**
 * A short name for this run's artifacts (backups, saved containers). Derived from the run ID, so
 * it is the same on every replay and every retried activity finds the work of the one before.
 */
export function runLabel(): string {
  return workflowInfo().runId.replace(/-/g, '').slice(0, 12);
}

import { workflowInfo } from '@temporalio/workflow';

/**
 * A short name for this run's artifacts (backups, saved containers). Derived from the run ID, so
 * it is the same on every replay and every retried activity finds the work of the one before.
 */
export function runLabel(): string {
  return workflowInfo().runId.replace(/-/g, '').slice(0, 12);
}

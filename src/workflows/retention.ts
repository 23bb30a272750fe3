import { CancellationScope, patched } from '@temporalio/workflow';
import type { RetentionOutcome } from '../common/retention';
import { longRunning } from './activity-options';
import type { ProcedureTracker } from './procedure-tracker';
import { describeFailure } from './saga';

/** Runs recorded before a finished run applied the retention replay without it. */
export const RETENTION_PATCH = 'prune-backups-after-run';

/**
 * Applies the cluster's `backup.keep` once this run has finished: pruneBackups marks this run's
 * clone backup as kept (from then on it is a backup, not a leftover) and drops the oldest clones
 * and set-aside databases beyond the newest `backup.keep`, never this run's own nor what an
 * interrupted run left. `skip` says why it must not run (a rollback a person had to help or gave
 * up: what is on the database server may be what they need). Never throws: a prune that fails
 * leaves more copies than wanted, no reason to fail a procedure that did its work; the outcome
 * goes to the status, the result and the mail. Non-cancellable, as the undo before it; long-running
 * (dropping several full copies of a large database can take minutes), kept alive by heartbeats.
 */
export async function applyRetention(cluster: string, label: string, tracker: ProcedureTracker, skip: string | undefined): Promise<RetentionOutcome | undefined> {
  if (!patched(RETENTION_PATCH)) return undefined;
  const retention: RetentionOutcome = skip
    ? { outcome: 'skipped', reason: skip }
    : await CancellationScope.nonCancellable(() => longRunning.pruneBackups({ cluster, label })).then(
        (pruned): RetentionOutcome => ({ outcome: 'pruned', ...pruned }),
        (error: unknown): RetentionOutcome => ({ outcome: 'failed', error: describeFailure(error) }),
      );
  tracker.status.retention = retention;
  return retention;
}

/** The retention's lines in the outcome mail; none when it was not applied. */
export function retentionReport(retention: RetentionOutcome | undefined): string[] {
  if (!retention) return [];
  switch (retention.outcome) {
    case 'skipped':
      return [`Backups: not pruned (backup.keep), because ${retention.reason}.`];
    case 'failed':
      return [
        `Backups: pruning (backup.keep) FAILED: ${retention.error}. The procedure's outcome stands; older clone backups and set-aside databases stay until the next finished run prunes them, ` +
          'and a clone backup this run took (if any) is not marked kept yet, so the next pre-flight lists it with the command that keeps it.',
      ];
    case 'pruned': {
      const spared = retention.spared.map((entry) => `${entry.name} (${entry.reason})`);
      return [
        `Backups on the database server (backup.keep): kept ${list(retention.kept)}; dropped ${list(retention.dropped)}` +
          `${spared.length > 0 ? `; spared ${spared.join(', ')}` : ''}` +
          `${retention.unsettled.length > 0 ? `; left by runs that did not finish, for a person: ${retention.unsettled.join(', ')}` : ''}.`,
      ];
    }
  }
}

function list(names: string[]): string {
  return names.length > 0 ? names.join(', ') : 'none';
}

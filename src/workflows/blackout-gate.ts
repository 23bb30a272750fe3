import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import { preflight } from './activity-options';
import type { ForceInput } from './input-checks';
import type { ProcedureTracker } from './procedure-tracker';

/**
 * The blackout calendar the schedules skip is checked by every procedure's pre-flight too, so a
 * manual start on a blackout day is refused unless forced; a forced start records why.
 */
export async function blackoutGate(cluster: string, force: ForceInput | undefined, tracker: ProcedureTracker): Promise<string | undefined> {
  const { period, today } = await preflight.checkBlackout({ cluster });
  if (!period) return undefined;
  const problem = `${today} is in the blackout ${period.from}..${period.to} of ${cluster} (${period.reason})`;
  if (!force) {
    throw ApplicationFailure.nonRetryable(`${problem}; start with "force": {"reason": "..."} if it cannot wait`, FailureType.InBlackout);
  }
  tracker.status.forced = { reason: force.reason, blackout: problem };
  return problem;
}

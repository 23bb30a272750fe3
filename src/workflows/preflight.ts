import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { ClusterPlan } from '../common/procedure-types';
import type { PreflightFacts, ProcedureDescriptor } from '../procedures/descriptor';
import type { CheckedCommon } from '../procedures/input-checks';
import { preflight } from './activity-options';
import type { ProcedureTracker } from './procedure-tracker';

/**
 * The part of every procedure's pre-flight that is the same: the blackout calendar, the cluster
 * plan (seeding the status's node table), the invariants that make the nodes one cluster, the
 * procedure's own refusals (judged by its descriptor, as the dry run judges them), and the
 * database. Touches nothing; the first problem fails the procedure before anything changes.
 */
export async function commonPreflight<Checked extends CheckedCommon>(
  descriptor: ProcedureDescriptor<Checked, string>,
  input: Checked,
  tracker: ProcedureTracker,
): Promise<{ plan: ClusterPlan; version: string | null }> {
  const { cluster } = input;
  await blackoutGate(input, tracker);
  const plan = await preflight.describeCluster({ cluster });
  tracker.seedNodes(plan);
  await preflight.checkClusterInvariants({ cluster });
  const [problem] = descriptor.problems(await gatherFacts(descriptor, plan), input);
  if (problem) throw ApplicationFailure.nonRetryable(problem.message, problem.type);
  const { version } = await preflight.checkDatabase({ cluster });
  return { plan, version };
}

/** The read-only facts a descriptor judges: the plan, and each node's health when it asks. */
export async function gatherFacts(descriptor: Pick<ProcedureDescriptor, 'probesHealth'>, plan: ClusterPlan): Promise<PreflightFacts> {
  if (!descriptor.probesHealth) return { plan };
  const probes = await Promise.all(plan.nodes.map((node) => preflight.probeNode({ cluster: plan.cluster, node: node.name })));
  return { plan, probes };
}

/**
 * The blackout calendar the schedules skip is checked by every procedure's pre-flight too, so a
 * manual start on a blackout day is refused unless forced; a forced start records why.
 */
async function blackoutGate({ cluster, force }: CheckedCommon, tracker: ProcedureTracker): Promise<void> {
  const { period, today } = await preflight.checkBlackout({ cluster });
  if (!period) return;
  const problem = `${today} is in the blackout ${period.from}..${period.to} of ${cluster} (${period.reason})`;
  if (!force) {
    throw ApplicationFailure.nonRetryable(`${problem}; start with "force": {"reason": "..."} if it cannot wait`, FailureType.InBlackout);
  }
  tracker.status.forced = { reason: force.reason, blackout: problem };
}

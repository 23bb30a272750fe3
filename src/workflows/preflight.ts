import { ApplicationFailure, patched } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { Leftover } from '../common/leftovers';
import type { ClusterPlan } from '../common/procedure-types';
import type { PreflightFacts, Problem, ProcedureDescriptor } from '../procedures/descriptor';
import type { CheckedCommon } from '../procedures/input-checks';
import { leftoverProblems } from '../procedures/leftovers';
import { preflight } from './activity-options';
import type { ProcedureTracker } from './procedure-tracker';

/** Runs recorded before the pre-flight looked for leftovers replay without the look. */
export const LEFTOVERS_PATCH = 'preflight-refuses-leftovers';

/**
 * The part of every procedure's pre-flight that is the same: the blackout calendar, the cluster
 * plan (seeding the status's node table), what runs that did not finish left behind, the
 * invariants that make the nodes one cluster, the procedure's own refusals (judged as the dry run
 * judges them), and the database. Touches nothing; the first problem fails the procedure before
 * anything changes.
 */
export async function commonPreflight<Checked extends CheckedCommon>(
  descriptor: ProcedureDescriptor<Checked, string>,
  input: Checked,
  tracker: ProcedureTracker,
): Promise<{ plan: ClusterPlan; version: string | null }> {
  if (patched(PARALLEL_READS_PATCH)) return parallelPreflight(descriptor, input, tracker);
  const { cluster } = input;
  await blackoutGate(input, tracker);
  const plan = await preflight.describeCluster({ cluster });
  tracker.seedNodes(plan);
  // Before the invariants: a run terminated halfway through an upgrade leaves the nodes on two
  // images, and only the leftovers say why and how to put them back.
  const leftovers = await readLeftovers(cluster);
  refuse(leftoverProblems({ plan, leftovers }));
  await preflight.checkClusterInvariants({ cluster });
  refuse(descriptor.problems({ ...(await gatherFacts(descriptor, plan)), leftovers }, input));
  const { version } = await preflight.checkDatabase({ cluster });
  return { plan, version };
}

/**
 * Runs recorded before this patch read one thing after another. The reads are independent and
 * touch nothing, so they now run at once (on remote Docker hosts each is a round trip of its own),
 * and are judged in the order above: the first problem in that order is the one reported, as
 * before, whichever read finished first.
 */
export const PARALLEL_READS_PATCH = 'preflight-reads-in-parallel';

async function parallelPreflight<Checked extends CheckedCommon>(
  descriptor: ProcedureDescriptor<Checked, string>,
  input: Checked,
  tracker: ProcedureTracker,
): Promise<{ plan: ClusterPlan; version: string | null }> {
  const { cluster } = input;
  const planned = preflight.describeCluster({ cluster });
  const reads = {
    blackout: preflight.checkBlackout({ cluster }),
    plan: planned,
    leftovers: readLeftovers(cluster),
    invariants: preflight.checkClusterInvariants({ cluster }),
    facts: planned.then((plan) => gatherFacts(descriptor, plan)),
    database: preflight.checkDatabase({ cluster }),
  };
  // Every read settles before any is judged: a refusal leaves nothing running behind it.
  await Promise.allSettled(Object.values(reads));
  await blackoutGate(input, tracker, reads.blackout);
  const plan = await reads.plan;
  tracker.seedNodes(plan);
  const leftovers = await reads.leftovers;
  refuse(leftoverProblems({ plan, leftovers }));
  await reads.invariants;
  refuse(descriptor.problems({ ...(await reads.facts), leftovers }, input));
  const { version } = await reads.database;
  return { plan, version };
}

/** The read-only facts a descriptor judges: the plan, and each node's health when it asks. */
export async function gatherFacts(descriptor: Pick<ProcedureDescriptor, 'probesHealth'>, plan: ClusterPlan): Promise<PreflightFacts> {
  if (!descriptor.probesHealth) return { plan };
  const probes = await Promise.all(plan.nodes.map((node) => preflight.probeNode({ cluster: plan.cluster, node: node.name })));
  return { plan, probes };
}

/**
 * What runs that did not finish left on the cluster (findLeftovers, read-only); undefined when
 * replaying a run recorded before the pre-flight looked.
 */
export async function readLeftovers(cluster: string): Promise<Leftover[] | undefined> {
  if (!patched(LEFTOVERS_PATCH)) return undefined;
  return preflight.findLeftovers({ cluster });
}

/** The value of a settled read, or its failure thrown. */
export function fulfilled<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

/** Fails with the first problem, its details (each leftover with its recovery) kept for the operator. */
function refuse([problem]: Problem[]): void {
  if (!problem) return;
  throw ApplicationFailure.create({ type: problem.type, message: problem.message, nonRetryable: true, ...(problem.details ? { details: [problem.details] } : {}) });
}

/**
 * The blackout calendar the schedules skip is checked by every procedure's pre-flight too, so a
 * manual start on a blackout day is refused unless forced; a forced start records why.
 */
async function blackoutGate(
  { cluster, force }: CheckedCommon,
  tracker: ProcedureTracker,
  read: ReturnType<typeof preflight.checkBlackout> = preflight.checkBlackout({ cluster }),
): Promise<void> {
  const { period, today } = await read;
  if (!period) return;
  const problem = `${today} is in the blackout ${period.from}..${period.to} of ${cluster} (${period.reason})`;
  if (!force) {
    throw ApplicationFailure.nonRetryable(`${problem}; start with "force": {"reason": "..."} if it cannot wait`, FailureType.InBlackout);
  }
  tracker.status.forced = { reason: force.reason, blackout: problem };
}

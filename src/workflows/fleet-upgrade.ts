import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import { checkFleetInput, fleetApprovers, fleetWorkflowId, memberProblems, planWaves, selectClusters, type FleetUpgradeInput } from '../procedures/fleet-upgrade';
import { invalidInput } from '../procedures/input-checks';
import { preflight } from './activity-options';
import { Fleet } from './fleet-state';
import type { FleetClusterStatus, FleetStatus } from './messages';

export type { FleetUpgradeInput } from '../procedures/fleet-upgrade';

/** One history holds a fleet of this many (a few events per cluster, well under Temporal's limits): no continueAsNew needed. */
const MAX_CLUSTERS = 200;
const SCHEDULED_SUFFIX = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export interface FleetUpgradeResult {
  fleet: string;
  outcome: Extract<FleetStatus['state'], 'completed' | 'stopped' | 'aborted' | 'rejected'>;
  /** Why the fleet stopped before its last wave. */
  reason?: string;
  waves: string[][];
  clusters: Record<string, FleetClusterStatus>;
  decisions: FleetStatus['decisions'];
  controls: FleetStatus['controls'];
}

export interface FleetDryRun {
  dryRun: true;
  fleet: string;
  waves: string[][];
  images: Record<string, string>;
  /** Who decides between waves and may pause, skip or abort. */
  approvers: string[];
  /** What the clusters' approval policies would refuse: a real run stops at once on any. */
  problems: { cluster: string; type: string; message: string }[];
}

/**
 * Upgrades a fleet of clusters in waves: a canary alone, then batches of `batchSize`, at most
 * `maxParallel` at once, optionally approved by a person between waves. Each cluster runs the
 * ordinary `versionUpgrade` as a child under its own `maintenance-<cluster>` ID, so its
 * exclusivity, approval and rollback are exactly those of a single upgrade. The fleet stops
 * starting upgrades once more clusters ended not upgraded than `failureBudget` (default 0: the
 * first rollback stops it); running ones finish on their own. `abort` cancels the running ones:
 * each rolls back, except one past its point of no return (users are on the new version), which
 * finishes its upgrade without asking anyone; clusters already upgraded stay upgraded.
 *
 * Side effects: only through its children (and a mail to the next wave's approvers before a
 * between-wave approval). All its state is in its history: a worker restart resumes it. Children
 * are abandoned, not cancelled, if the fleet is terminated: an upgrade is never cut off by it.
 */
export async function fleetUpgrade(raw: FleetUpgradeInput): Promise<FleetUpgradeResult | FleetDryRun> {
  const input = checkFleetInput(raw);
  const expected = fleetWorkflowId(input.name);
  const { workflowId } = workflowInfo();
  // A Temporal Schedule appends its action time to the ID it is given (`fleet-eu-2026-12-06T01:00:00Z`).
  if (workflowId !== expected && !(workflowId.startsWith(`${expected}-`) && SCHEDULED_SUFFIX.test(workflowId.slice(expected.length + 1)))) {
    throw ApplicationFailure.nonRetryable(`start the fleet upgrade "${input.name}" with workflow ID "${expected}" (got "${workflowId}"), so that Temporal refuses a second one of that name`, FailureType.InvalidWorkflowId);
  }
  // Handlers first: a pause or an approval sent while the fleet reads its clusters is not lost.
  const fleet = new Fleet(input);
  const members = await preflight.fleetClusters(input.clusters ? { clusters: input.clusters } : {});
  const chosen = input.clusters ?? selectClusters(members, input.selector ?? {});
  if (chosen.length === 0) throw invalidInput(`no configured cluster has the labels ${JSON.stringify(input.selector)}`);
  if (chosen.length > MAX_CLUSTERS) throw invalidInput(`${chosen.length} clusters are more than one fleet takes (${MAX_CLUSTERS}): split it, e.g. by a label`);
  const strays = Object.keys(input.images).filter((cluster) => !chosen.includes(cluster));
  if (strays.length > 0) throw invalidInput(`"images" names ${strays.join(', ')}, not in the fleet (${chosen.join(', ')})`);
  const picked = members.filter((member) => chosen.includes(member.name));
  const waves = planWaves(chosen, input.canary, input.batchSize);
  const approvers = fleetApprovers(input, picked);
  const problems = memberProblems(picked, input);
  fleet.plan(waves, approvers);

  if (input.dryRun) {
    return {
      dryRun: true,
      fleet: input.name,
      waves,
      images: Object.fromEntries(chosen.map((cluster) => [cluster, fleet.imageOf(cluster)])),
      approvers,
      problems: problems.map(({ cluster, type, message }) => ({ cluster, type, message })),
    };
  }
  if (problems.length > 0) {
    throw ApplicationFailure.create({
      type: problems[0]!.type,
      nonRetryable: true,
      message: `the fleet started nothing: ${problems.map((problem) => problem.message).join('; ')}`,
      details: [{ problems }],
    });
  }
  await fleet.run();
  const { status } = fleet;
  return {
    fleet: input.name,
    outcome: status.state as FleetUpgradeResult['outcome'],
    ...(status.reason ? { reason: status.reason } : {}),
    waves,
    clusters: status.clusters,
    decisions: status.decisions,
    controls: status.controls,
  };
}

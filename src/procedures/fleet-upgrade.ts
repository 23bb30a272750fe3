import { CLUSTER_NAME } from '../common/cluster-name';
import { parseDuration } from '../common/duration';
import type { ApprovalPolicyPlan } from '../common/procedure-types';
import { checkApprovalInput, type ApprovalInput, type ApprovalPolicy } from './approval-input';
import { approvalPolicyProblems } from './approval-policy';
import type { Problem } from './descriptor';
import { invalidInput as invalid } from './input-checks';
import { checkUpgradeInput, type VersionUpgradeInput } from './version-upgrade';

/**
 * The pure part of a fleet upgrade: its input, which clusters a selector picks, the waves and the
 * failure budget. Runs in the workflow sandbox and in clients (dry runs, the bench) alike.
 */

/** What `fleetUpgrade` is started with. */
export interface FleetUpgradeInput {
  /** The fleet's name: the workflow ID is `fleet-<name>`, so one fleet upgrade of that name runs at a time. */
  name: string;
  /** The clusters, in order; or `selector`. */
  clusters?: string[];
  /** Every configured cluster whose `labels` include all of these (in name order); or `clusters`. */
  selector?: Record<string, string>;
  /** The image every cluster is upgraded to, unless `images` names another for it. */
  image: string;
  /** Per-cluster image overrides. */
  images?: Record<string, string>;
  /** The cluster upgraded alone first (default: the first one); `false`: no canary wave. */
  canary?: string | false;
  /** Clusters per wave after the canary (default 5). */
  batchSize?: number;
  /** At most this many upgrades at once within a wave (default: batchSize). */
  maxParallel?: number;
  /** Wait for a human approval (approve/reject signals, decide update) before every wave but the first. */
  approveBetweenWaves?: boolean;
  /** The between-wave approval's timeout; `onTimeout: rollback` (the default) stops the fleet there. */
  waveApproval?: ApprovalInput;
  /** Who may decide between waves, pause, resume, skip and abort (default: every cluster's approvers together). */
  approvers?: string[];
  /** How many clusters may end not upgraded (rolled back, failed, refused) before the fleet stops (default 0). */
  failureBudget?: number;
  /** Passed through to each cluster's `versionUpgrade` (e.g. `approval: {timeout: "10m", onTimeout: "proceed"}`). */
  upgrade?: Pick<VersionUpgradeInput, 'approval' | 'backupMethod' | 'force'>;
  /** How often the fleet reads its running upgrades' steps for its status (default 30s; "0s": never). */
  watchEvery?: string;
  startedBy?: string;
  /** Lists the waves (and what each cluster's policy would refuse) without starting anything. */
  dryRun?: boolean;
}

export interface CheckedFleetInput {
  name: string;
  clusters: string[] | undefined;
  selector: Record<string, string> | undefined;
  image: string;
  images: Record<string, string>;
  canary: string | false | undefined;
  batchSize: number;
  maxParallel: number;
  approveBetweenWaves: boolean;
  waveApproval: ApprovalPolicy;
  approvers: string[] | undefined;
  failureBudget: number;
  upgrade: NonNullable<FleetUpgradeInput['upgrade']>;
  watchEveryMs: number;
  startedBy: string | undefined;
  dryRun: boolean;
}

const KEYS = [
  'name', 'clusters', 'selector', 'image', 'images', 'canary', 'batchSize', 'maxParallel', 'approveBetweenWaves', 'waveApproval',
  'approvers', 'failureBudget', 'upgrade', 'watchEvery', 'startedBy', 'dryRun',
];
const UPGRADE_KEYS = ['approval', 'backupMethod', 'force'];
const DEFAULT_BATCH = 5;

export function fleetWorkflowId(name: string): string {
  return `fleet-${name}`;
}

function positiveInt(value: unknown, key: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw invalid(`"${key}" must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}

function stringRecord(value: unknown, key: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.values(value).some((entry) => typeof entry !== 'string')) {
    throw invalid(`"${key}" must be an object of strings, such as {"region": "eu"}`);
  }
  return value as Record<string, string>;
}

/** Refuses malformed input (InvalidInput) before anything is read or touched. */
export function checkFleetInput(raw: unknown): CheckedFleetInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('the input must be an object such as {"name": "eu", "selector": {"region": "eu"}, "image": "…"}');
  const input = raw as FleetUpgradeInput & Record<string, unknown>;
  const unknown = Object.keys(input).filter((key) => !KEYS.includes(key));
  if (unknown.length > 0) throw invalid(`unknown key(s) ${unknown.join(', ')}; expected ${KEYS.join(', ')}`);
  if (typeof input.name !== 'string' || !CLUSTER_NAME.test(input.name)) throw invalid(`"name" must be lower-case letters, digits and dashes, got ${JSON.stringify(input.name)}`);
  const { clusters } = input;
  const selector = stringRecord(input.selector, 'selector');
  if ((clusters === undefined) === (selector === undefined)) throw invalid('name the clusters with exactly one of "clusters" (a list) or "selector" (labels)');
  if (clusters !== undefined) {
    if (!Array.isArray(clusters) || clusters.length === 0 || clusters.some((cluster) => typeof cluster !== 'string' || !CLUSTER_NAME.test(cluster))) {
      throw invalid('"clusters" must be a non-empty list of cluster names');
    }
    const twice = clusters.filter((cluster, index) => clusters.indexOf(cluster) !== index);
    if (twice.length > 0) throw invalid(`"clusters" names ${twice.join(', ')} more than once`);
  }
  const images = stringRecord(input.images, 'images') ?? {};
  const upgrade = input.upgrade ?? {};
  if (typeof upgrade !== 'object' || upgrade === null || Array.isArray(upgrade)) throw invalid('"upgrade" must be an object');
  const extra = Object.keys(upgrade).filter((key) => !UPGRADE_KEYS.includes(key));
  if (extra.length > 0) throw invalid(`unknown "upgrade" key(s) ${extra.join(', ')}; expected ${UPGRADE_KEYS.join(', ')} (the rest comes from the fleet)`);
  // Every image and the pass-through options, checked as versionUpgrade checks them.
  for (const image of [input.image, ...Object.values(images)]) upgradeInput('check', image, upgrade, undefined);
  const { canary } = input;
  if (canary !== undefined && canary !== false && (typeof canary !== 'string' || !CLUSTER_NAME.test(canary))) throw invalid('"canary" must be a cluster name or false');
  const batchSize = positiveInt(input.batchSize, 'batchSize', DEFAULT_BATCH);
  const maxParallel = positiveInt(input.maxParallel, 'maxParallel', batchSize);
  const failureBudget = positiveInt(input.failureBudget, 'failureBudget', 0, 0);
  const { approvers } = input;
  if (approvers !== undefined && (!Array.isArray(approvers) || approvers.some((who) => typeof who !== 'string' || who.trim() === ''))) throw invalid('"approvers" must be a list of names');
  let watchEveryMs: number;
  try {
    watchEveryMs = parseDuration(input.watchEvery ?? '30s');
  } catch (error) {
    throw invalid(`"watchEvery": ${(error as Error).message}`);
  }
  if (input.startedBy !== undefined && typeof input.startedBy !== 'string') throw invalid('"startedBy" must be a name');
  return {
    name: input.name,
    clusters,
    selector,
    image: input.image,
    images,
    canary,
    batchSize,
    maxParallel,
    approveBetweenWaves: input.approveBetweenWaves === true,
    waveApproval: checkApprovalInput(input.waveApproval),
    approvers,
    failureBudget,
    upgrade,
    watchEveryMs,
    startedBy: input.startedBy,
    dryRun: input.dryRun === true,
  };
}

/** One cluster's `versionUpgrade` input as the fleet starts it (checked as the workflow will check it). */
export function upgradeInput(cluster: string, image: string, upgrade: CheckedFleetInput['upgrade'], startedBy: string | undefined): VersionUpgradeInput {
  const input: VersionUpgradeInput = { cluster, image, ...upgrade, ...(startedBy ? { startedBy } : {}) };
  checkUpgradeInput(input);
  return input;
}

/** What the fleet knows of a configured cluster (read by the `fleetClusters` activity). */
export interface FleetMember {
  name: string;
  labels: Record<string, string>;
  approvers: string[];
  approvalPolicy?: ApprovalPolicyPlan;
}

/** The clusters a selector picks: every label matches, in name order (a stable order for the waves). */
export function selectClusters(configured: Pick<FleetMember, 'name' | 'labels'>[], selector: Record<string, string>): string[] {
  return configured
    .filter((cluster) => Object.entries(selector).every(([key, value]) => cluster.labels[key] === value))
    .map((cluster) => cluster.name)
    .sort();
}

/** The canary alone, then batches of `batchSize` in order. */
export function planWaves(clusters: string[], canary: string | false | undefined, batchSize: number): string[][] {
  if (canary !== undefined && canary !== false && !clusters.includes(canary)) throw invalid(`the canary ${canary} is not one of the fleet's clusters (${clusters.join(', ')})`);
  const first = canary === false ? undefined : (canary ?? clusters[0]);
  const rest = clusters.filter((cluster) => cluster !== first);
  const waves: string[][] = first === undefined ? [] : [[first]];
  for (let i = 0; i < rest.length; i += batchSize) waves.push(rest.slice(i, i + batchSize));
  return waves;
}

/** Outcomes that leave a cluster not upgraded count against the budget; a skip does not. */
export const SPENDS_BUDGET: ReadonlySet<string> = new Set(['rolled-back', 'failed', 'refused', 'cancelled']);

/** Whether the fleet must start no more upgrades: more clusters ended not upgraded than the budget allows. */
export function budgetSpent(outcomes: string[], failureBudget: number): boolean {
  return outcomes.filter((outcome) => SPENDS_BUDGET.has(outcome)).length > failureBudget;
}

/** Who decides between waves and may pause, skip or abort: the fleet's own list, or every cluster's approvers. */
export function fleetApprovers(input: Pick<CheckedFleetInput, 'approvers'>, members: Pick<FleetMember, 'approvers'>[]): string[] {
  if (input.approvers) return input.approvers;
  return [...new Set(members.flatMap((member) => member.approvers))];
}

/** What each cluster's approval policy would refuse in its upgrade, judged before the fleet starts anything. */
export function memberProblems(members: FleetMember[], input: Pick<CheckedFleetInput, 'upgrade' | 'startedBy'>): Array<Problem & { cluster: string }> {
  const policy = checkApprovalInput(input.upgrade.approval);
  return members.flatMap((member) =>
    approvalPolicyProblems({ cluster: member.name, approvers: member.approvers, ...(member.approvalPolicy ? { approvalPolicy: member.approvalPolicy } : {}) }, { policy, startedBy: input.startedBy }).map((problem) => ({
      ...problem,
      cluster: member.name,
    })),
  );
}

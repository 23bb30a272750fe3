import { describeStartOrder, noAppNodeProblem, roleOf, type NodeRole } from '../common/node-order';
import type { BackupMethod } from '../common/procedure-types';
import { stepList, type ProcedureDescriptor, type ProcedureName } from '../procedures/descriptor';
import type { CheckedCommon } from '../procedures/input-checks';
import { preflightProblems } from '../procedures/leftovers';
import { preflight } from './activity-options';
import { gatherFacts, readLeftovers } from './preflight';
import { describeFailure } from './saga';

/**
 * What a procedure would do, from read-only activities only: nothing is started, stopped, pulled,
 * backed up or switched, and no mail is sent. What the real pre-flight would refuse is listed in
 * `problems` instead of failing, so one dry run shows everything to fix.
 */
export interface DryRunPlan {
  dryRun: true;
  procedure: ProcedureName;
  cluster: string;
  steps: string[];
  nodes: { name: string; container: string; image: string; running: boolean; role: NodeRole }[];
  /** The order nodes come back in: first app node alone, other app nodes, workers last. */
  startOrder: string[];
  currentVersion: string | null;
  target?: { image: string; version: string | null; present: { dockerHost: string; present: boolean }[] };
  backup?: { method: BackupMethod; databaseBytes?: number; freeBytes?: number | null };
  operations?: string[];
  /** Median length of the window (maintenance page, or one node serving) in the last successful runs. */
  expectedWindowMs: number | null;
  basedOnRuns: number;
  problems: string[];
}

/**
 * The plan from the procedure's descriptor: its steps, and its pre-flight's refusals judged from
 * the same read-only facts the real pre-flight reads, listed instead of thrown.
 */
export async function dryRun<Checked extends CheckedCommon>(descriptor: ProcedureDescriptor<Checked, string>, input: Checked): Promise<DryRunPlan> {
  const { cluster } = input;
  const steps = stepList(descriptor);
  const request = descriptor.planOf(input);
  const plan = await preflight.describeCluster({ cluster });
  const unreadable: string[] = [];
  const leftovers = await readLeftovers(cluster).catch((error: unknown) => {
    unreadable.push(`leftovers: ${describeFailure(error)}`);
    return undefined;
  });
  const facts = { ...(await gatherFacts(descriptor, plan)), leftovers };
  const problems = [...unreadable, ...preflightProblems(descriptor, facts, input).map((problem) => problem.message)];
  await preflight.checkClusterInvariants({ cluster }).catch((error: unknown) => problems.push(describeFailure(error)));
  const startOrder = describeStartOrder(plan.nodes);
  if (startOrder.length === 0) problems.push(noAppNodeProblem(cluster));
  const blackout = await preflight.checkBlackout({ cluster });
  if (blackout.period) problems.push(`${blackout.today} is in the blackout ${blackout.period.from}..${blackout.period.to} (${blackout.period.reason}): needs "force"`);
  const database = await preflight.checkDatabase({ cluster }).catch((error: unknown) => {
    problems.push(`database: ${describeFailure(error)}`);
    return undefined;
  });
  let target: DryRunPlan['target'];
  if (request.target) {
    const present = await preflight.inspectImages({ cluster, images: [request.target] });
    const version = present.some((entry) => entry.present) ? await preflight.imageVersion({ cluster, image: request.target }) : null;
    target = { image: request.target, version, present: present.map(({ dockerHost, present: here }) => ({ dockerHost, present: here })) };
  }
  let backup: DryRunPlan['backup'];
  if (request.backupMethod !== undefined || steps.includes('backup')) {
    const room = await preflight.checkBackupRoom({ cluster, ...(request.backupMethod ? { method: request.backupMethod } : {}) }).catch((error: unknown) => {
      problems.push(`backup: ${describeFailure(error)}`);
      return undefined;
    });
    backup = room ? { method: room.method, databaseBytes: room.databaseBytes, freeBytes: room.freeBytes } : { method: request.backupMethod ?? 'pg_dump' };
  }
  const window = await preflight.recentWindow({ cluster, procedure: descriptor.name });
  return {
    dryRun: true,
    procedure: descriptor.name,
    cluster,
    steps,
    nodes: plan.nodes.map((node) => ({ name: node.name, container: node.container, image: node.image, running: node.running, role: roleOf(node) })),
    startOrder,
    currentVersion: database?.version ?? null,
    ...(target ? { target } : {}),
    ...(backup ? { backup } : {}),
    ...(request.operations ? { operations: request.operations } : {}),
    expectedWindowMs: window.expectedMs,
    basedOnRuns: window.basedOnRuns,
    problems,
  };
}

import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { ClusterPlan, CompensationOutcome, NodeReadiness, NotificationOutcome } from '../common/procedure-types';
import { longRunning, preflight, quick } from './activity-options';
import { dryRun, type DryRunPlan } from './dry-run';
import { blackoutGate } from './blackout-gate';
import { checkForce, checkInput, checkWorkflowId, type ForceInput } from './input-checks';
import { notify } from './notify';
import { ProcedureTracker } from './procedure-tracker';
import { describeFailure, failureType, Saga } from './saga';

export interface FirstStartInput {
  cluster: string;
  /** Return the plan and change nothing. */
  dryRun?: boolean;
  /** Start on a blackout day anyway; the reason is recorded. */
  force?: ForceInput;
}

export const FIRST_START_STEPS = ['preflight', 'start-first-node', 'start-other-nodes', 'enable-load-balancer', 'notify'];

export interface FirstStartResult {
  cluster: string;
  firstNode: string;
  nodes: NodeReadiness[];
  loadBalancer: { server: string; status: string }[];
  notification: NotificationOutcome;
  steps: { step: string; startedAt: string; endedAt?: string }[];
}

/**
 * First start of a cluster, as NocoBase's cluster guide prescribes: one node alone until it has
 * installed the application and its plugins (two nodes installing one database at once corrupt
 * it), then the others in parallel, then traffic.
 *
 * Side effects: starts containers, enables load-balancer servers, sends an email. On failure it
 * stops every node it started and takes them out of the load balancer, then fails with the
 * failure type of the step that broke.
 */
export async function firstStart(rawInput: FirstStartInput): Promise<FirstStartResult | DryRunPlan> {
  const { cluster, dryRun: planOnly, force: rawForce } = checkInput<FirstStartInput>(rawInput, ['cluster', 'dryRun', 'force']);
  const force = checkForce(rawForce);
  checkWorkflowId(cluster);
  if (planOnly === true) {
    return dryRun({ procedure: 'firstStart', cluster, steps: FIRST_START_STEPS, judge: (plan) => runningProblem(plan) });
  }
  const tracker = new ProcedureTracker('firstStart', cluster);
  const saga = new Saga();

  try {
    const plan = await tracker.step('preflight', async () => {
      await blackoutGate(cluster, force, tracker);
      return preflightChecks(cluster, tracker);
    });
    const [first, ...others] = plan.nodes;
    if (!first) throw ApplicationFailure.nonRetryable(`cluster ${cluster} has no nodes`, FailureType.Misconfigured);

    const firstReady = await tracker.step('start-first-node', async () => {
      saga.push(`stop ${first.name}`, () => quick.stopNode({ cluster, node: first.name }));
      tracker.node(first.name, 'starting');
      tracker.waitingFor(`${first.name} to install or upgrade the application and enable its plugins`);
      await quick.startNode({ cluster, node: first.name });
      const ready = await longRunning.waitNodeReady({ cluster, node: first.name, requirePlugins: true });
      tracker.node(first.name, 'ready');
      return ready;
    });

    const othersReady = await tracker.step('start-other-nodes', async () => {
      for (const node of others) saga.push(`stop ${node.name}`, () => quick.stopNode({ cluster, node: node.name }));
      tracker.waitingFor(`${others.map((node) => node.name).join(', ')} to become healthy`);
      return Promise.all(
        others.map(async (node) => {
          tracker.node(node.name, 'starting');
          await quick.startNode({ cluster, node: node.name });
          const ready = await longRunning.waitNodeReady({ cluster, node: node.name, requirePlugins: false });
          tracker.node(node.name, 'ready');
          return ready;
        }),
      );
    });

    const names = plan.nodes.map((node) => node.name);
    const loadBalancer = await tracker.step('enable-load-balancer', async () => {
      saga.push('take the nodes out of the load balancer', () => quick.setLoadBalancerServers({ cluster, nodes: names, state: 'maint' }));
      tracker.waitingFor('the load balancer to report every node UP');
      await quick.setMaintenanceMode({ cluster, on: false });
      await quick.setLoadBalancerServers({ cluster, nodes: names, state: 'ready' });
      return longRunning.waitLoadBalancerServing({ cluster, nodes: names });
    });
    tracker.waitingFor(undefined);

    const notification = await tracker.step('notify', () =>
      notify(cluster, 'first start succeeded', `All ${names.length} nodes of ${cluster} are serving behind the load balancer: ${names.join(', ')}.`),
    );
    tracker.succeeded();
    return { cluster, firstNode: first.name, nodes: [firstReady, ...othersReady], loadBalancer, notification, steps: tracker.status.steps };
  } catch (error) {
    tracker.failing(error);
    const compensations = await saga.compensate();
    tracker.failed(compensations);
    await CancellationScope.nonCancellable(() =>
      notify(cluster, `first start FAILED at ${tracker.status.step}`, failureReport(tracker.status.step, error, compensations)),
    );
    if (isCancellation(error)) throw error;
    throw ApplicationFailure.create({
      type: failureType(error),
      message: `first start of ${cluster} failed at step ${tracker.status.step}: ${describeFailure(error)}`,
      nonRetryable: true,
      details: [{ step: tracker.status.step, compensations }],
      cause: error instanceof Error ? error : undefined,
    });
  }
}

async function preflightChecks(cluster: string, tracker: ProcedureTracker): Promise<ClusterPlan> {
  const plan = await preflight.describeCluster({ cluster });
  for (const node of plan.nodes) tracker.node(node.name, node.running ? 'ready' : 'stopped', { container: node.container, image: node.image });
  await preflight.checkClusterInvariants({ cluster });
  const [problem] = runningProblem(plan);
  if (problem) throw ApplicationFailure.nonRetryable(problem, FailureType.ClusterNotStopped);
  await preflight.checkDatabase({ cluster });
  await longRunning.ensureImages({ cluster, images: plan.nodes.map((node) => node.image) });
  return plan;
}

function runningProblem(plan: ClusterPlan): string[] {
  const running = plan.nodes.filter((node) => node.running);
  if (running.length === 0) return [];
  return [`cluster ${plan.cluster} already has running nodes (${running.map((node) => node.name).join(', ')}); a first start needs every node stopped`];
}

function failureReport(step: string, error: unknown, compensations: CompensationOutcome[]): string {
  const undone = compensations.map((outcome) => `  - ${outcome.step}: ${outcome.ok ? 'done' : `FAILED: ${outcome.error}`}`);
  return [`The first start failed at step "${step}" (${failureType(error)}):`, describeFailure(error), '', 'Undone:', ...undone].join('\n');
}

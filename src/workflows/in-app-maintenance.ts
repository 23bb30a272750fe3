import { ApplicationFailure, CancellationScope, condition, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { BackupRecord, CompensationOutcome, NodeReadiness, NotificationOutcome, StorageBackupRecord } from '../common/procedure-types';
import { longRunning, preflight, quick } from './activity-options';
import { Approval } from './approval';
import { blackoutGate } from './blackout-gate';
import { awaitDecision } from './decision-step';
import { dryRun, type DryRunPlan } from './dry-run';
import { checkMaintenanceInput, describeOperation, type InAppMaintenanceInput, type MaintenanceOperation } from './in-app-maintenance-input';
import { checkWorkflowId } from './input-checks';
import { maintenanceDoneSignal, type IgnoredDecision, type OperationOutcome, type RecordedDecision } from './messages';
import { restoreTraffic, startNodes } from './node-rollout';
import { notify } from './notify';
import { outcomeReport } from './procedure-mail';
import { ProcedureTracker } from './procedure-tracker';
import { runLabel } from './run-label';
import { describeFailure, failureType, Saga } from './saga';

export type { InAppMaintenanceInput } from './in-app-maintenance-input';

export interface InAppMaintenanceResult {
  cluster: string;
  outcome: 'completed' | 'rejected';
  reason?: string;
  node: string;
  operations: OperationOutcome[];
  maintenanceDoneBy?: string;
  backup?: BackupRecord;
  smoke?: NodeReadiness;
  decision?: RecordedDecision;
  ignoredDecisions: IgnoredDecision[];
  compensations?: CompensationOutcome[];
  notification: NotificationOutcome;
  steps: { step: string; startedAt: string; endedAt?: string }[];
}

const REJECTIONS: string[] = [FailureType.MaintenanceRejected, FailureType.ApprovalTimedOut];

/**
 * In-app maintenance, as NocoBase's cluster guide prescribes: plugin management, backups or manual
 * work happen with ONE node serving, because NocoBase's in-app operations are not coordinated
 * across nodes. The other nodes are drained out of the load balancer (nobody sees an error) and
 * stopped, the work runs on the remaining node, a person verifies, and the cluster comes back to
 * full strength — also on failure or rejection. Data changes are undone only when asked
 * (`restoreBackupOnFailure`, from the backup an operation took).
 *
 * Side effects: LB server states, container stops/starts, `docker exec yarn pm ...`, a pg_dump
 * backup, a restore when asked, emails.
 */
export async function inAppMaintenance(rawInput: InAppMaintenanceInput): Promise<InAppMaintenanceResult | DryRunPlan> {
  const input = checkMaintenanceInput(rawInput);
  checkWorkflowId(input.cluster);
  const { cluster } = input;
  if (input.dryRun) {
    return dryRun({
      procedure: 'inAppMaintenance',
      cluster,
      steps: ['preflight', 'reduce-to-one-node', 'maintenance', 'verify', 'restore-nodes', 'notify'],
      judge: () => [],
      probeHealth: true,
      operations: input.operations.map(describeOperation),
      ...(input.operations.some((operation) => operation.type === 'backup') ? { backupMethod: 'pg_dump' as const } : {}),
    });
  }
  const tracker = new ProcedureTracker('inAppMaintenance', cluster);
  const approval = new Approval();
  tracker.status.approval = approval.status;
  const operations: OperationOutcome[] = [];
  tracker.status.operations = operations;
  let doneBy: string | undefined;
  setHandler(maintenanceDoneSignal, (done) => {
    if (typeof done?.by === 'string' && done.by.trim() !== '') doneBy ??= done.by;
  });
  const saga = new Saga();
  const label = runLabel();
  let node = '';
  let smoke: NodeReadiness | undefined;

  try {
    const plan = await tracker.step('preflight', async () => {
      await blackoutGate(cluster, input.force, tracker);
      const plan = await preflight.describeCluster({ cluster });
      for (const entry of plan.nodes) tracker.node(entry.name, entry.running ? 'ready' : 'stopped', { container: entry.container, image: entry.image });
      await preflight.checkClusterInvariants({ cluster });
      const probes = await Promise.all(plan.nodes.map((entry) => preflight.probeNode({ cluster, node: entry.name })));
      const unhealthy = probes.filter((probe) => !probe.healthy);
      if (unhealthy.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `in-app maintenance needs every node of ${cluster} serving; not healthy: ${unhealthy.map((probe) => `${probe.node} (${probe.code})`).join(', ')}`,
          FailureType.ClusterNotHealthy,
        );
      }
      await preflight.checkDatabase({ cluster });
      return plan;
    });
    approval.allow(plan.approvers);
    const all = plan.nodes.map((entry) => entry.name);
    const [first, ...others] = all;
    if (!first) throw ApplicationFailure.nonRetryable(`cluster ${cluster} has no nodes`, FailureType.Misconfigured);
    node = first;

    await tracker.step('reduce-to-one-node', async () => {
      saga.push('give traffic back to every node', () => restoreTraffic(cluster, all));
      saga.push('start the other nodes again', () => startNodes(cluster, others, tracker));
      if (others.length === 0) return;
      // drain, then maint: requests under way finish on their node, new ones go to node 1.
      await quick.setLoadBalancerServers({ cluster, nodes: others, state: 'drain' });
      await longRunning.waitServersDrained({ cluster, nodes: others });
      await quick.setLoadBalancerServers({ cluster, nodes: others, state: 'maint' });
      await Promise.all(
        others.map(async (other) => {
          tracker.node(other, 'stopping');
          await quick.stopNode({ cluster, node: other });
          tracker.node(other, 'stopped');
        }),
      );
    });

    await tracker.step('maintenance', async () => {
      if (input.operations.length === 0) {
        tracker.waitingFor(`the maintenanceDone signal: work in the application on ${first}, then send it`);
        await notify(cluster, `in-app maintenance: ${first} alone serves, waiting for your work`, manualWorkMail(first), 'approvers');
        await condition(() => doneBy !== undefined);
        tracker.status.maintenanceDoneBy = doneBy;
        tracker.waitingFor(undefined);
        return;
      }
      for (const [index, operation] of input.operations.entries()) await runOperation(operation, index);
    });

    smoke = await tracker.step('verify', async () => {
      const ready = await longRunning.waitNodeReady({ cluster, node: first, requirePlugins: true });
      await awaitDecision(
        {
          cluster,
          subject: `in-app maintenance on ${first}`,
          summary: [
            `${first} served alone while: ${operations.map((outcome) => outcome.operation).join(', ') || `manual work (done by ${doneBy})`}.`,
            `It passed the automated checks: health 200, version ${ready.version ?? 'unknown'}, ${ready.plugins ? `${ready.plugins.builtInReady}/${ready.plugins.builtIn} built-in plugins enabled` : 'plugins not read'}.`,
          ],
          onApprove: 'the other nodes come back',
          onReject: input.restoreBackupOnFailure ? 'the backup is restored, then the other nodes come back' : 'the other nodes come back; data changes stay',
          rejectedType: FailureType.MaintenanceRejected,
        },
        approval,
        input.policy,
        tracker,
      );
      return ready;
    });

    await tracker.step('restore-nodes', async () => {
      await startNodes(cluster, others, tracker);
      await restoreTraffic(cluster, all);
    });
    const notification = await tracker.step('notify', () =>
      notify(cluster, 'in-app maintenance completed', outcomeReport(`In-app maintenance of ${cluster} is complete; every node serves again.`, tracker.status)),
    );
    tracker.succeeded();
    return result('completed', notification);
  } catch (error) {
    tracker.failing(error);
    const compensations = await saga.compensate();
    const broken = compensations.filter((outcome) => !outcome.ok);
    tracker.failed(compensations);
    const notification = await CancellationScope.nonCancellable(() =>
      notify(cluster, broken.length > 0 ? 'in-app maintenance FAILED and restoring the cluster FAILED' : 'in-app maintenance ended, cluster restored',
        outcomeReport(`In-app maintenance of ${cluster} did not complete.`, tracker.status, error)),
    );
    if (broken.length > 0) {
      throw ApplicationFailure.create({
        type: FailureType.RollbackFailed,
        nonRetryable: true,
        message: `in-app maintenance of ${cluster} failed at ${tracker.status.step} (${failureType(error)}: ${describeFailure(error)}) and restoring the cluster failed too: ${broken.map((outcome) => `${outcome.step}: ${outcome.error}`).join('; ')}`,
        details: [{ cause: { type: failureType(error), message: describeFailure(error) }, compensations, nodes: tracker.status.nodes, operations }],
      });
    }
    if (isCancellation(error)) throw error;
    if (REJECTIONS.includes(failureType(error))) {
      tracker.status.outcome = 'rejected';
      return { ...result('rejected', notification), reason: describeFailure(error), compensations };
    }
    const failed = operations.find((outcome) => !outcome.ok);
    throw ApplicationFailure.create({
      type: failureType(error),
      nonRetryable: true,
      message: `in-app maintenance of ${cluster} failed at step ${tracker.status.step}${failed ? ` (operation "${failed.operation}")` : ''} and the cluster was restored: ${describeFailure(error)}`,
      details: [{ step: tracker.status.step, failedOperation: failed, operations, compensations }],
      cause: error instanceof Error ? error : undefined,
    });
  }

  async function runOperation(operation: MaintenanceOperation, index: number): Promise<void> {
    const name = describeOperation(operation);
    tracker.waitingFor(`operation ${index + 1}/${input.operations.length}: ${name}`);
    if (operation.type === 'backup') {
      const backup = await longRunning.backupDatabase({ cluster, method: 'pg_dump', label: `${label}-${index}` });
      const storage = await longRunning.backupStorage({ cluster, label: `${label}-${index}` });
      operations.push({ operation: name, ok: true, backup });
      tracker.status.backup = backup;
      if (storage) tracker.status.storageBackup = storage;
      if (input.restoreBackupOnFailure) saga.push('restore the database and storage from the maintenance backup', () => restoreOnFirstNode(backup, storage));
      return;
    }
    try {
      const done = await quick.runNodeCommand({ cluster, node, command: ['yarn', 'pm', ...operation.args] });
      operations.push({ operation: name, ok: true, output: done.output });
    } catch (error) {
      const details = findDetails(error);
      operations.push({ operation: name, ok: false, output: details?.output ?? describeFailure(error) });
      throw error;
    }
  }

  /** The data goes back only with node 1 stopped (nobody connected), which then starts again. */
  async function restoreOnFirstNode(backup: BackupRecord, storage: StorageBackupRecord | null): Promise<void> {
    tracker.node(node, 'stopping');
    await quick.stopNode({ cluster, node });
    await longRunning.restoreDatabase({ cluster, backup, label: `${label}-restore` });
    if (storage) await longRunning.restoreStorage({ cluster, backup: storage, label: `${label}-restore` });
    tracker.node(node, 'starting');
    await quick.startNode({ cluster, node });
    await longRunning.waitNodeReady({ cluster, node, requirePlugins: true });
    tracker.node(node, 'ready');
  }

  function result(outcome: InAppMaintenanceResult['outcome'], notification: NotificationOutcome): InAppMaintenanceResult {
    return {
      cluster,
      outcome,
      node,
      operations,
      ...(doneBy ? { maintenanceDoneBy: doneBy } : {}),
      ...(tracker.status.backup ? { backup: tracker.status.backup } : {}),
      ...(smoke ? { smoke } : {}),
      ...(approval.status.decision ? { decision: approval.status.decision } : {}),
      ignoredDecisions: approval.status.ignored,
      notification,
      steps: tracker.status.steps,
    };
  }
}

/** The command's output travels in the ActivityFailure's ApplicationFailure details. */
function findDetails(error: unknown): { output?: string } | undefined {
  let current: unknown = error;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.details?.[0]) return current.details[0] as { output?: string };
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function manualWorkMail(node: string): string {
  const { namespace, workflowId } = workflowInfo();
  return [
    `${node} alone serves the application now; the other nodes are stopped and out of the load balancer.`,
    'Do the plugin management, backup or migration in the application, then tell the procedure:',
    `  temporal workflow signal --namespace ${namespace} --workflow-id ${workflowId} --name maintenanceDone --input '{"by":"<you>"}'`,
  ].join('\n');
}

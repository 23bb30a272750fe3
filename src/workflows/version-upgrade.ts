import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { BackupRecord, ClusterPlan, CompensationOutcome, NodeReadiness, NotificationOutcome, StorageBackupRecord } from '../common/procedure-types';
import { longRunning, preflight, quick } from './activity-options';
import { Approval } from './approval';
import { checkWorkflowId } from './input-checks';
import type { IgnoredDecision, RecordedDecision } from './messages';
import { restoreTraffic, startFirstThenOthers } from './node-rollout';
import { notify } from './notify';
import { ProcedureTracker } from './procedure-tracker';
import { runLabel } from './run-label';
import { describeFailure, failureType, Saga } from './saga';
import { checkUpgradeInput, type CheckedUpgradeInput, type VersionUpgradeInput } from './version-upgrade-input';
import { blackoutGate } from './blackout-gate';
import { awaitDecision } from './decision-step';
import { dryRun, type DryRunPlan } from './dry-run';
import { maintenanceWindowMs, outcomeReport } from './procedure-mail';

export type { VersionUpgradeInput } from './version-upgrade-input';

export interface VersionUpgradeResult {
  cluster: string;
  outcome: 'upgraded' | 'rolled-back';
  /** Why the upgrade was rolled back (rejection or approval timeout). */
  reason?: string;
  from: { version: string | null; images: Record<string, string> };
  to: { image: string; version: string | null };
  backup?: BackupRecord;
  storageBackup?: StorageBackupRecord;
  smoke?: NodeReadiness;
  decision?: RecordedDecision;
  ignoredDecisions: IgnoredDecision[];
  compensations?: CompensationOutcome[];
  /** Saved pre-upgrade containers that could not be removed after success (harmless, stopped). */
  leftovers?: string[];
  notification: NotificationOutcome;
  steps: { step: string; startedAt: string; endedAt?: string }[];
  /** How long the load balancer showed the maintenance page, as measured by the procedure. */
  maintenanceWindowMs?: number;
}

export const UPGRADE_STEPS = [
  'preflight', 'maintenance-page', 'stop-nodes', 'restart-middleware (when configured)', 'backup', 'update-image',
  'start-first-node', 'verify', 'start-other-nodes', 'restore-traffic', 'cleanup', 'notify',
];

const ROLLBACK_REQUESTS: string[] = [FailureType.UpgradeRejected, FailureType.ApprovalTimedOut];

/**
 * Version upgrade, as NocoBase's cluster guide prescribes, made safe: maintenance page, every node
 * stopped, a verified backup, the new image on ONE node, its upgrade awaited, a human decision,
 * then the other nodes and traffic. Each step pushes its undo first; on rejection, timeout,
 * failure or cancellation the undo runs in a non-cancellable scope and leaves the cluster serving
 * the previous version with the previous data.
 *
 * Side effects: LB maintenance switch and servers, container stops/starts and recreation, a
 * database backup (kept), a database restore on rollback, emails.
 */
export async function versionUpgrade(rawInput: VersionUpgradeInput): Promise<VersionUpgradeResult | DryRunPlan> {
  const input = checkUpgradeInput(rawInput);
  checkWorkflowId(input.cluster);
  const { cluster, image } = input;
  if (input.dryRun) {
    return dryRun({
      procedure: 'versionUpgrade',
      cluster,
      steps: UPGRADE_STEPS,
      judge: (plan) => (plan.nodes.every((node) => node.image === image) ? [`every node of ${cluster} already runs ${image}`] : []),
      target: image,
      ...(input.backupMethod ? { backupMethod: input.backupMethod } : {}),
    });
  }
  const tracker = new ProcedureTracker('versionUpgrade', cluster);
  const approval = new Approval();
  tracker.status.approval = approval.status;
  tracker.status.target = { image, version: null };
  const saga = new Saga();
  const label = runLabel();
  const from: VersionUpgradeResult['from'] = { version: null, images: {} };
  let smoke: NodeReadiness | undefined;

  try {
    const { plan, targetVersion } = await tracker.step('preflight', () => upgradePreflight(input, tracker, from));
    approval.allow(plan.approvers);
    tracker.status.target = { image, version: targetVersion };
    const all = plan.nodes.map((node) => node.name);
    const running = plan.nodes.filter((node) => node.running).map((node) => node.name);
    const [first, ...others] = plan.nodes;
    if (!first) throw ApplicationFailure.nonRetryable(`cluster ${cluster} has no nodes`, FailureType.Misconfigured);

    await tracker.step('maintenance-page', async () => {
      saga.push('give traffic back to the nodes', () => restoreTraffic(cluster, running));
      await quick.setMaintenanceMode({ cluster, on: true });
    });

    await tracker.step('stop-nodes', async () => {
      saga.push('start the previous version, first node first', () => startFirstThenOthers(cluster, running, tracker));
      await Promise.all(
        all.map(async (node) => {
          tracker.node(node, 'stopping');
          await quick.stopNode({ cluster, node });
          tracker.node(node, 'stopped');
        }),
      );
    });

    if (plan.restartMiddleware.length > 0) {
      // Nothing to undo: a restarted Redis serves the old version as well as the new.
      await tracker.step('restart-middleware', () => quick.restartMiddleware({ cluster }));
    }

    await tracker.step('backup', async () => {
      // Database AND shared storage, as NocoBase's own backup manager does: a rollback that
      // restored only the data would leave records pointing at files of the new version.
      const record = await longRunning.backupDatabase({ cluster, label, ...(input.backupMethod ? { method: input.backupMethod } : {}) });
      tracker.status.backup = record;
      saga.push('restore the database from the backup', () => longRunning.restoreDatabase({ cluster, backup: record, label }));
      const storage = await longRunning.backupStorage({ cluster, label });
      if (storage) {
        tracker.status.storageBackup = storage;
        saga.push('restore the shared storage from the backup', () => longRunning.restoreStorage({ cluster, backup: storage, label }));
      }
    });

    await tracker.step('update-image', async () => {
      saga.push(`put ${first.name} back on ${first.image}`, () => putBack(first));
      await quick.replaceNodeImage({ cluster, node: first.name, image, label });
      tracker.node(first.name, 'stopped', { image });
    });

    smoke = await tracker.step('start-first-node', async () => {
      saga.push(`stop ${first.name}`, () => stop(first.name));
      tracker.node(first.name, 'starting');
      tracker.waitingFor(`${first.name} to finish the upgrade to ${targetVersion ?? image} and become healthy`);
      await quick.startNode({ cluster, node: first.name });
      const ready = await longRunning.waitNodeReady({ cluster, node: first.name, requirePlugins: true, expectVersion: targetVersion });
      tracker.node(first.name, 'ready');
      return ready;
    });

    await tracker.step('verify', () =>
      awaitDecision(
        {
          cluster,
          subject: `upgrade of ${first.name} to ${image}`,
          summary: smokeSummary(first.name, image, smoke),
          onApprove: 'the other nodes are upgraded and traffic comes back',
          onReject: 'image and data are rolled back to before the upgrade',
          rejectedType: FailureType.UpgradeRejected,
        },
        approval,
        { timeoutMs: input.approvalTimeoutMs, onTimeout: input.onTimeout },
        tracker,
      ),
    );

    await tracker.step('start-other-nodes', async () => {
      for (const node of others) {
        saga.push(`put ${node.name} back on ${node.image}`, () => putBack(node));
        saga.push(`stop ${node.name}`, () => stop(node.name));
      }
      await Promise.all(
        others.map(async (node) => {
          await quick.replaceNodeImage({ cluster, node: node.name, image, label });
          tracker.node(node.name, 'starting', { image });
          await quick.startNode({ cluster, node: node.name });
          await longRunning.waitNodeReady({ cluster, node: node.name, requirePlugins: false, expectVersion: targetVersion });
          tracker.node(node.name, 'ready');
        }),
      );
    });

    await tracker.step('restore-traffic', () => restoreTraffic(cluster, all));
    const leftovers = await tracker.step('cleanup', () => discardSavedContainers(cluster, all, label));
    const notification = await tracker.step('notify', () =>
      notify(cluster, `upgraded to ${image}`, outcomeReport(`${cluster} now runs ${image} on every node.`, tracker.status)),
    );
    tracker.succeeded();
    return { ...result('upgraded', notification), ...(leftovers.length > 0 ? { leftovers } : {}) };
  } catch (error) {
    tracker.failing(error);
    const compensations = await saga.compensate();
    const requested = ROLLBACK_REQUESTS.includes(failureType(error));
    const broken = compensations.filter((outcome) => !outcome.ok);
    tracker.failed(compensations);
    const notification = await CancellationScope.nonCancellable(() =>
      notify(cluster, broken.length > 0 ? `upgrade to ${image} FAILED and the ROLLBACK FAILED` : `upgrade to ${image} rolled back`,
        outcomeReport(`The upgrade of ${cluster} to ${image} was rolled back.`, tracker.status, error)),
    );
    if (broken.length > 0) {
      throw ApplicationFailure.create({
        type: FailureType.RollbackFailed,
        nonRetryable: true,
        message: `upgrade of ${cluster} failed at ${tracker.status.step} (${failureType(error)}: ${describeFailure(error)}) and the rollback failed too: ${broken.map((outcome) => `${outcome.step}: ${outcome.error}`).join('; ')}`,
        details: [{ cause: { type: failureType(error), message: describeFailure(error) }, compensations, nodes: tracker.status.nodes, backup: tracker.status.backup }],
      });
    }
    if (isCancellation(error)) throw error;
    if (requested) {
      tracker.status.outcome = 'rolled-back';
      return { ...result('rolled-back', notification), reason: describeFailure(error), compensations };
    }
    throw ApplicationFailure.create({
      type: failureType(error),
      nonRetryable: true,
      message: `upgrade of ${cluster} to ${image} failed at step ${tracker.status.step} and was rolled back: ${describeFailure(error)}`,
      details: [{ step: tracker.status.step, compensations, backup: tracker.status.backup }],
      cause: error instanceof Error ? error : undefined,
    });
  }

  /** After a rollback the page ends when the undo gave traffic back, i.e. now. */
  function windowOf(): { maintenanceWindowMs?: number } {
    const window = maintenanceWindowMs(tracker.status.steps, new Date(Date.now()).toISOString());
    return window === undefined ? {} : { maintenanceWindowMs: window };
  }

  // Undo steps that also keep the status query's node table true during a rollback.
  async function stop(node: string): Promise<void> {
    await quick.stopNode({ cluster, node });
    tracker.node(node, 'stopped');
  }
  async function putBack(node: { name: string; image: string }): Promise<void> {
    await quick.restoreNodeImage({ cluster, node: node.name, label });
    tracker.node(node.name, 'stopped', { image: node.image });
  }

  function result(outcome: VersionUpgradeResult['outcome'], notification: NotificationOutcome): VersionUpgradeResult {
    return {
      cluster,
      outcome,
      from,
      to: { image, version: tracker.status.target?.version ?? null },
      ...(tracker.status.backup ? { backup: tracker.status.backup } : {}),
      ...(tracker.status.storageBackup ? { storageBackup: tracker.status.storageBackup } : {}),
      ...(smoke ? { smoke } : {}),
      ...(approval.status.decision ? { decision: approval.status.decision } : {}),
      ignoredDecisions: approval.status.ignored,
      notification,
      steps: tracker.status.steps,
      ...windowOf(),
    };
  }
}

function smokeSummary(node: string, image: string, smoke: NodeReadiness | undefined): string[] {
  const plugins = smoke?.plugins ? `${smoke.plugins.builtInReady}/${smoke.plugins.builtIn} built-in plugins enabled` : 'plugins not read';
  return [
    `${node} now runs ${image} and passed the automated checks:`,
    `  health 200, recorded application version ${smoke?.version ?? 'unknown'}, ${plugins}.`,
    'The other nodes are stopped and the load balancer shows the maintenance page.',
  ];
}

/** Touches nothing: the plan, the versions, room for the backup, the image on every host. */
async function upgradePreflight(
  input: CheckedUpgradeInput,
  tracker: ProcedureTracker,
  from: VersionUpgradeResult['from'],
): Promise<{ plan: ClusterPlan; targetVersion: string | null }> {
  const { cluster, image } = input;
  await blackoutGate(cluster, input.force, tracker);
  const plan = await preflight.describeCluster({ cluster });
  for (const node of plan.nodes) {
    tracker.node(node.name, node.running ? 'ready' : 'stopped', { container: node.container, image: node.image });
    from.images[node.name] = node.image;
  }
  await preflight.checkClusterInvariants({ cluster });
  if (plan.nodes.every((node) => node.image === image)) {
    throw ApplicationFailure.nonRetryable(`every node of ${cluster} already runs ${image}`, FailureType.AlreadyOnImage);
  }
  from.version = (await preflight.checkDatabase({ cluster })).version;
  await preflight.checkBackupRoom({ cluster, ...(input.backupMethod ? { method: input.backupMethod } : {}) });
  await longRunning.ensureImages({ cluster, images: [image] });
  const targetVersion = await preflight.imageVersion({ cluster, image });
  return { plan, targetVersion };
}

/**
 * The previous containers were kept for a rollback; after success they go. One that cannot be
 * removed is stopped and harmless, so it is reported in the result instead of failing an upgrade
 * that succeeded.
 */
async function discardSavedContainers(cluster: string, nodes: string[], label: string): Promise<string[]> {
  const outcomes = await Promise.all(
    nodes.map((node) =>
      quick.discardSavedNode({ cluster, node, label }).then(
        () => undefined,
        (error: unknown) => `${node}: ${describeFailure(error)}`,
      ),
    ),
  );
  return outcomes.filter((outcome): outcome is string => outcome !== undefined);
}

import { patched } from '@temporalio/workflow';
import type { RestartPolicy } from '../activities/nodes/restart-policy';
import { FailureType } from '../common/failure-types';
import type { BackupRecord, CompensationOutcome, NodeReadiness, NotificationOutcome, StorageBackupRecord } from '../common/procedure-types';
import { VERSION_UPGRADE, type CheckedUpgradeInput, type VersionUpgradeInput } from '../procedures/version-upgrade';
import { longRunning, preflight, quick } from './activity-options';
import type { DryRunPlan } from './dry-run';
import type { IgnoredDecision, RecordedDecision } from './messages';
import { bringUp, inParallel, restoreTraffic, rolloutOrder, startFirstThenOthers, stopNodes, whileHolding } from './node-rollout';
import { commonPreflight, fulfilled, PARALLEL_READS_PATCH } from './preflight';
import { runProcedure, type ProcedureRun } from './procedure';
import { maintenanceWindowMs, outcomeReport } from './procedure-mail';
import type { ProcedureTracker } from './procedure-tracker';
import { describeFailure } from './saga';
import { EVERY_ENDING_PATCH } from './held-policies';

export type { VersionUpgradeInput } from '../procedures/version-upgrade';

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
  /** Every decision taken: who, how (link, token on the CLI, open mode, timeout), when, which token. */
  audit?: RecordedDecision[];
  ignoredDecisions: IgnoredDecision[];
  compensations?: CompensationOutcome[];
  /** Saved pre-upgrade containers that could not be removed after success (harmless, stopped). */
  leftovers?: string[];
  notification: NotificationOutcome;
  steps: { step: string; startedAt: string; endedAt?: string }[];
  /** How long the load balancer showed the maintenance page, as measured by the procedure. */
  maintenanceWindowMs?: number;
}

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
  const input = VERSION_UPGRADE.checkInput(rawInput);
  const { cluster, image } = input;
  const from: VersionUpgradeResult['from'] = { version: null, images: {} };
  let smoke: NodeReadiness | undefined;

  /** What every ending reports: where it came from, where it went, the backup and the decision. */
  const result = ({ tracker, approval }: ProcedureRun<string>, outcome: VersionUpgradeResult['outcome'], notification: NotificationOutcome): VersionUpgradeResult => {
    const { status } = tracker;
    // After a rollback the page ends when the undo gave traffic back, i.e. now.
    const window = maintenanceWindowMs(status.steps, new Date(Date.now()).toISOString());
    return {
      cluster,
      outcome,
      from,
      to: { image, version: status.target?.version ?? null },
      ...(status.backup ? { backup: status.backup } : {}),
      ...(status.storageBackup ? { storageBackup: status.storageBackup } : {}),
      ...(smoke ? { smoke } : {}),
      ...(approval.status.decision ? { decision: approval.status.decision } : {}),
      ...(approval.status.audit ? { audit: approval.status.audit } : {}),
      ignoredDecisions: approval.status.ignored,
      notification,
      steps: status.steps,
      ...(window === undefined ? {} : { maintenanceWindowMs: window }),
    };
  };

  return runProcedure({
    descriptor: VERSION_UPGRADE,
    input,
    undoFailureIsFatal: true,
    wording: {
      title: `the upgrade of ${cluster} to ${image}`,
      undone: 'was rolled back',
      undoFailed: 'the rollback failed too',
      subject: (broken) => (broken ? `upgrade to ${image} FAILED and the ROLLBACK FAILED` : `upgrade to ${image} rolled back`),
      details: ({ tracker }) => ({ backup: tracker.status.backup }),
    },
    answers: { rejectedType: FailureType.UpgradeRejected, outcome: 'rolled-back', result: (run, notification) => result(run, 'rolled-back', notification) },
    async steps(run) {
      const { step, undo, label, tracker } = run;
      tracker.status.target = { image, version: null };

      const { plan, targetVersion } = await step('preflight', () => upgradePreflight(input, tracker, from));
      run.adopt(plan);
      tracker.status.target = { image, version: targetVersion };
      const all = plan.nodes.map((node) => node.name);
      // An app node upgrades alone, then the other app nodes, WORKER_MODE nodes last; only app nodes get traffic.
      const { first, otherApps, workers } = rolloutOrder(cluster, plan.nodes);
      const others = [...otherApps, ...workers];
      const apps = [first, ...otherApps].map((node) => node.name);
      const running = [first, ...otherApps].filter((node) => node.running).map((node) => node.name);
      const runningWorkers = workers.filter((node) => node.running).map((node) => node.name);
      // Undo steps that also keep the status query's node table true during a rollback.
      const putBack = async (node: { name: string; image: string }) => {
        await quick.restoreNodeImage({ cluster, node: node.name, label });
        tracker.node(node.name, 'stopped', { image: node.image });
      };
      const stop = (node: string) => stopNodes(cluster, [node], tracker);

      // The nodes that serve again after a rollback: a quorum of them is enough (rollback.quorum).
      let serving = running;
      await step('maintenance-page', async () => {
        undo('give traffic back to the nodes', () => restoreTraffic(tracker, cluster, serving), { needs: ['serving'] });
        await quick.setMaintenanceMode({ cluster, on: true });
      });

      // No restart policy while the procedure holds the nodes stopped: a dockerd restart during a
      // long verification must not start an old node on the upgraded database.
      const holdPolicies = patched('suspend-restart-policies');
      const policies: Record<string, RestartPolicy> = {};
      const givePoliciesBack = (ifRunning = false) =>
        inParallel(all, async (node) => {
          const policy = policies[node];
          if (policy) await quick.restoreRestartPolicy({ cluster, node, policy, ...(ifRunning ? { ifRunning } : {}) });
        });
      await step('stop-nodes', async () => {
        if (holdPolicies) undo('give the nodes their restart policies back', () => givePoliciesBack(), { needs: ['serving'] });
        // An abandoned rollback ran no further undo: the nodes that run (the new version after the
        // point of no return, or old ones a person started) get their policies back all the same.
        if (holdPolicies && patched(EVERY_ENDING_PATCH)) run.whenAbandoned(() => givePoliciesBack(true));
        // Old nodes start only on restored data and storage, on their own images.
        const quorum = Math.min(plan.rollbackQuorum ?? running.length, running.length);
        undo('start the previous version, first node first', async () => (serving = await startFirstThenOthers(cluster, running, tracker, quorum, runningWorkers)), {
          restores: 'serving',
          needs: ['data', 'storage', 'images'],
        });
        if (holdPolicies) {
          await inParallel(all, async (node) => {
            policies[node] = (await quick.suspendRestartPolicy({ cluster, node })).policy;
          });
        }
        await stopNodes(cluster, all, tracker);
      });

      if (plan.restartMiddleware.length > 0) {
        // Nothing to undo: a restarted Redis serves the old version as well as the new.
        await step('restart-middleware', () => quick.restartMiddleware({ cluster }));
      }

      await step('backup', async () => {
        // Database AND shared storage, as NocoBase's own backup manager does: a rollback that
        // restored only the data would leave records pointing at files of the new version.
        const record = await longRunning.backupDatabase({ cluster, label, ...(input.backupMethod ? { method: input.backupMethod } : {}) });
        tracker.status.backup = record;
        tracker.metrics.backup(record.durationMs, record.sizeBytes);
        undo('restore the database from the backup', () => longRunning.restoreDatabase({ cluster, backup: record, label }), { restores: 'data', needs: ['stopped'] });
        const storage = await longRunning.backupStorage({ cluster, label });
        if (storage) {
          tracker.status.storageBackup = storage;
          undo('restore the shared storage from the backup', () => longRunning.restoreStorage({ cluster, backup: storage, label }), { restores: 'storage', needs: ['stopped'] });
        }
      });

      await step('update-image', async () => {
        undo(`put ${first.name} back on ${first.image}`, () => putBack(first), { restores: 'images', needs: ['stopped'] });
        await quick.replaceNodeImage({ cluster, node: first.name, image, label });
        tracker.node(first.name, 'stopped', { image });
      });

      smoke = await step('start-first-node', () => {
        undo(`stop ${first.name}`, () => stop(first.name), { restores: 'stopped' });
        tracker.waitingFor(`${first.name} to finish the upgrade to ${targetVersion ?? image} and become healthy`);
        return bringUp(cluster, first.name, tracker, { requirePlugins: true, expectVersion: targetVersion });
      });

      await step('verify', () =>
        whileHolding(tracker, { cluster, maintenance: true, servers: [] }, () => run.decide(
          {
            cluster,
            subject: `upgrade of ${first.name} to ${image}`,
            summary: smokeSummary(first.name, image, smoke),
            onApprove: 'the other nodes are upgraded and traffic comes back',
            onReject: 'image and data are rolled back to before the upgrade',
            rejectedType: FailureType.UpgradeRejected,
          },
          input.policy,
        )),
      );

      await step('start-other-nodes', async () => {
        for (const node of others) {
          undo(`put ${node.name} back on ${node.image}`, () => putBack(node), { restores: 'images', needs: ['stopped'] });
          undo(`stop ${node.name}`, () => stop(node.name), { restores: 'stopped' });
        }
        const upgrade = async (node: (typeof others)[number]) => {
          await quick.replaceNodeImage({ cluster, node: node.name, image, label });
          tracker.node(node.name, 'stopped', { image });
          await bringUp(cluster, node.name, tracker, { requirePlugins: false, expectVersion: targetVersion });
        };
        await inParallel(otherApps, upgrade);
        // Workers last, once every app node serves the new version.
        if (workers.length > 0) await inParallel(workers, upgrade);
      });

      await step('restore-traffic', () => restoreTraffic(tracker, cluster, apps, () => run.pointOfNoReturn(`traffic is back, on ${image}`)));
      const leftovers = await step('cleanup', async () => {
        // The new version serves: a policy that cannot be given back is reported, not undone.
        const policyLeft = holdPolicies ? await givePoliciesBack().then(() => [], (error: unknown) => [`restart policies: ${describeFailure(error)}`]) : [];
        return [...policyLeft, ...(await discardSavedContainers(cluster, all, label))];
      });
      return {
        mail: () => ({ subject: `upgraded to ${image}`, text: outcomeReport(`${cluster} now runs ${image} on every node.`, tracker.status) }),
        result: (notification) => ({ ...result(run, 'upgraded', notification), ...(leftovers.length > 0 ? { leftovers } : {}) }),
      };
    },
  });
}

function smokeSummary(node: string, image: string, smoke: NodeReadiness | undefined): string[] {
  const plugins = smoke?.plugins ? `${smoke.plugins.builtInReady}/${smoke.plugins.builtIn} built-in plugins enabled` : 'plugins not read';
  return [
    `${node} now runs ${image} and passed the automated checks:`,
    `  health 200, recorded application version ${smoke?.version ?? 'unknown'}, ${plugins}.`,
    'The other nodes are stopped and the load balancer shows the maintenance page.',
  ];
}

/** Touches nothing: the common checks, room for the backup, the image on every host and its version. */
async function upgradePreflight(input: CheckedUpgradeInput, tracker: ProcedureTracker, from: VersionUpgradeResult['from']) {
  const { cluster, image } = input;
  const backupRoom = () => preflight.checkBackupRoom({ cluster, ...(input.backupMethod ? { method: input.backupMethod } : {}) });
  let checked: Awaited<ReturnType<typeof commonPreflight>>;
  if (patched(PARALLEL_READS_PATCH)) {
    // Read beside the common checks; judged after them, as before.
    const [common, room] = await Promise.allSettled([commonPreflight(VERSION_UPGRADE, input, tracker), backupRoom()]);
    checked = fulfilled(common);
    fulfilled(room);
  } else {
    checked = await commonPreflight(VERSION_UPGRADE, input, tracker);
    await backupRoom();
  }
  const { plan, version } = checked;
  for (const node of plan.nodes) from.images[node.name] = node.image;
  from.version = version;
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

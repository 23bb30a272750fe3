import { ApplicationFailure, condition, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { BackupRecord, CompensationOutcome, NodeReadiness, NotificationOutcome, StorageBackupRecord } from '../common/procedure-types';
import { describeOperation, IN_APP_MAINTENANCE, type InAppMaintenanceInput, type MaintenanceOperation } from '../procedures/in-app-maintenance';
import { longRunning, preflight, quick } from './activity-options';
import type { DryRunPlan } from './dry-run';
import { maintenanceDoneSignal, type IgnoredDecision, type OperationOutcome, type RecordedDecision } from './messages';
import type { Approval } from './approval';
import { HeldPolicies, IN_APP_POLICIES_PATCH } from './held-policies';
import { KeptNodeUpgrade } from './kept-node-upgrade';
import { bringUp, restoreTraffic, rolloutOrder, startAppsThenWorkers, stopNodes, whileHolding } from './node-rollout';
import { notify, requestSigned } from './notify';
import { commonPreflight } from './preflight';
import { runProcedure, type ProcedureRun } from './procedure';
import { outcomeReport } from './procedure-mail';
import { describeFailure } from './saga';

export type { InAppMaintenanceInput } from '../procedures/in-app-maintenance';

/** Runs recorded before a backup operation was checked at pre-flight replay without the check. */
const BACKUP_CHECKED_PATCH = 'in-app-backup-checked';

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
  /** Every decision taken: who, how (link, token on the CLI, open mode, timeout), when, which token. */
  audit?: RecordedDecision[];
  ignoredDecisions: IgnoredDecision[];
  compensations?: CompensationOutcome[];
  notification: NotificationOutcome;
  steps: { step: string; startedAt: string; endedAt?: string }[];
}

/**
 * In-app maintenance, as NocoBase's cluster guide prescribes: plugin management, backups or manual
 * work happen with ONE app node serving, because NocoBase's in-app operations are not coordinated
 * across nodes. The other app nodes are drained out of the load balancer (nobody sees an error)
 * and stopped with the WORKER_MODE nodes, the work runs on the remaining node, a person verifies,
 * and the cluster comes back to full strength, workers last — also on failure or rejection. After
 * a `pm add` the remaining node is restarted alone first, to run the upgrade the add left pending
 * (see kept-node-upgrade.ts). Data changes are undone only when asked (`restoreBackupOnFailure`,
 * from the backup an operation took).
 *
 * Side effects: LB server states, container stops/starts, restart policies of held nodes (set to
 * `no`, given back once they run), `docker exec yarn pm ...`, a pg_dump backup, a restore when
 * asked, emails.
 */
export async function inAppMaintenance(rawInput: InAppMaintenanceInput): Promise<InAppMaintenanceResult | DryRunPlan> {
  const input = IN_APP_MAINTENANCE.checkInput(rawInput);
  const { cluster } = input;
  const operations: OperationOutcome[] = [];
  let doneBy: string | undefined;
  // Runs started before maintenanceDone was checked took it from anyone, at any step.
  const checkDone = patched('maintenance-done-checked');
  /** Set while the maintenance step waits for the signal; the runner's approval, once it runs. */
  let awaitingDone = false;
  let approval: Approval | undefined;
  setHandler(maintenanceDoneSignal, async (done) => {
    if (approval?.signedOnly) {
      // Signed mode: only the token mailed for it ends the manual work, as the person it names.
      const by = String(done?.by ?? '(a token)');
      const judged = awaitingDone ? approval.judgeToken(done?.token, 'maintenanceDone') : { refusal: 'maintenanceDone is taken only while the maintenance step waits for it' };
      if ('refusal' in judged) return approval.ignore({ decision: 'maintenanceDone', by, why: judged.refusal });
      try {
        const who = await approval.redeem(done.token!, judged.claims, 'maintenanceDone');
        if (awaitingDone) doneBy ??= who;
      } catch (error) {
        approval.ignore({ decision: 'maintenanceDone', by, why: describeFailure(error) });
      }
      return;
    }
    if (typeof done?.by !== 'string' || done.by.trim() === '') return;
    const refusal = checkDone ? maintenanceDoneRefusal(done.by, awaitingDone, approval) : undefined;
    if (refusal) approval?.ignore({ decision: 'maintenanceDone', by: done.by, why: refusal });
    else doneBy ??= done.by;
  });
  let node = '';
  let smoke: NodeReadiness | undefined;
  const pendingUpgrade = new KeptNodeUpgrade(cluster);
  // No restart policy on a node while it is held stopped: a dockerd restart must not start the
  // others next to a `pm add` (several nodes migrating at once, unlocked), nor node 1 on a
  // half-restored database. Runs recorded before replay without it.
  const held = patched(IN_APP_POLICIES_PATCH) ? new HeldPolicies(cluster) : undefined;

  const result = ({ tracker, approval }: ProcedureRun<string>, outcome: InAppMaintenanceResult['outcome'], notification: NotificationOutcome): InAppMaintenanceResult => ({
    cluster,
    outcome,
    node,
    operations,
    ...(doneBy ? { maintenanceDoneBy: doneBy } : {}),
    ...(tracker.status.backup ? { backup: tracker.status.backup } : {}),
    ...(smoke ? { smoke } : {}),
    ...(approval.status.decision ? { decision: approval.status.decision } : {}),
    ...(approval.status.audit ? { audit: approval.status.audit } : {}),
    ignoredDecisions: approval.status.ignored,
    notification,
    steps: tracker.status.steps,
  });

  return runProcedure({
    descriptor: IN_APP_MAINTENANCE,
    input,
    undoFailureIsFatal: true,
    wording: {
      title: `in-app maintenance of ${cluster}`,
      undone: 'the cluster was restored',
      undoFailed: 'restoring the cluster failed too',
      subject: (broken) => (broken ? 'in-app maintenance FAILED and restoring the cluster FAILED' : 'in-app maintenance ended, cluster restored'),
      context: () => {
        const failed = operations.find((outcome) => !outcome.ok);
        return failed ? ` (operation "${failed.operation}")` : '';
      },
      details: () => ({ failedOperation: operations.find((outcome) => !outcome.ok), operations }),
    },
    answers: { rejectedType: FailureType.MaintenanceRejected, outcome: 'rejected', result: (run, notification) => result(run, 'rejected', notification) },
    async steps(run) {
      const { step, undo, label, tracker } = run;
      tracker.status.operations = operations;
      approval = run.approval;

      const { plan, version } = await step('preflight', async () => {
        const checked = await commonPreflight(IN_APP_MAINTENANCE, input, tracker);
        // A backup operation is checked as an upgrade's backup is (room, pg_dump against the
        // server, a login that can restore as the owners) before any node is touched.
        if (input.operations.some((operation) => operation.type === 'backup') && patched(BACKUP_CHECKED_PATCH)) {
          await preflight.checkBackupRoom({ cluster, method: 'pg_dump' });
        }
        return checked;
      });
      run.adopt(plan);
      // The kept node is always an app node; only app nodes are ever in the load balancer.
      const order = rolloutOrder(cluster, plan.nodes);
      const first = order.first.name;
      const otherApps = order.otherApps.map((entry) => entry.name);
      const workers = order.workers.map((entry) => entry.name);
      const apps = [first, ...otherApps];
      const others = [...otherApps, ...workers];
      node = first;
      /** No other node starts before the upgrade a `pm add` left pending ran on the kept node alone. */
      const bringBackOthers = async () => {
        await pendingUpgrade.runAlone(first, version, tracker);
        await startAppsThenWorkers(cluster, otherApps, workers, tracker);
        await held?.giveBack(others);
      };
      // An abandoned rollback: whichever node runs gets its policy back; one left stopped stays held.
      if (held) run.whenAbandoned(() => held.giveBack(undefined, true));

      await step('reduce-to-one-node', async () => {
        undo('give traffic back to every node', () => restoreTraffic(tracker, cluster, apps), { needs: ['serving'] });
        undo('start the other nodes again', bringBackOthers, { restores: 'serving', needs: ['data'] });
        if (others.length === 0) return;
        if (otherApps.length > 0) {
          // drain, then maint: requests under way finish on their node, new ones go to node 1.
          await quick.setLoadBalancerServers({ cluster, nodes: otherApps, state: 'drain' });
          await longRunning.waitServersDrained({ cluster, nodes: otherApps });
          await quick.setLoadBalancerServers({ cluster, nodes: otherApps, state: 'maint' });
        }
        await held?.hold(others);
        await stopNodes(cluster, others, tracker);
      });

      await step('maintenance', async () => {
        if (input.operations.length === 0) {
          tracker.waitingFor(`the maintenanceDone signal: work in the application on ${first}, then send it`);
          awaitingDone = true;
          tracker.metrics.waitingForPerson('maintenance-done');
          const subject = `in-app maintenance: ${first} alone serves, waiting for your work`;
          if (run.approval.signedOnly) await requestSigned(cluster, subject, manualWorkMail(first, true), ['maintenanceDone']);
          else await notify(cluster, subject, manualWorkMail(first, false), 'approvers');
          await condition(() => doneBy !== undefined);
          awaitingDone = false;
          tracker.metrics.personAnswered('maintenance-done');
          tracker.status.maintenanceDoneBy = doneBy;
          tracker.waitingFor(undefined);
          return;
        }
        for (const [index, operation] of input.operations.entries()) {
          tracker.waitingFor(`operation ${index + 1}/${input.operations.length}: ${describeOperation(operation)}`);
          pendingUpgrade.noteOperation(operation);
          await runOperation(run, operation, `${label}-${index}`);
        }
        // Verified (and approved) is the node that ran the upgrade, not the one that had yet to.
        await pendingUpgrade.runAlone(first, version, tracker);
      });

      smoke = await step('verify', async () => {
        const ready = await longRunning.waitNodeReady({ cluster, node: first, requirePlugins: true });
        const held = [{ node: first, state: 'ready' as const }, ...otherApps.map((other) => ({ node: other, state: 'maint' as const }))];
        await whileHolding(tracker, { cluster, maintenance: false, servers: held }, () => run.decide(
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
          input.policy,
        ));
        return ready;
      });

      await step('restore-nodes', async () => {
        await bringBackOthers();
        await restoreTraffic(tracker, cluster, apps);
      });
      return {
        mail: () => ({ subject: 'in-app maintenance completed', text: outcomeReport(`In-app maintenance of ${cluster} is complete; every node serves again.`, tracker.status) }),
        result: (notification) => result(run, 'completed', notification),
      };
    },
  });

  /** One operation on the remaining node; its outcome is recorded whether it worked or not. */
  async function runOperation(run: ProcedureRun<string>, operation: MaintenanceOperation, label: string): Promise<void> {
    const { undo, tracker } = run;
    const name = describeOperation(operation);
    if (operation.type === 'backup') {
      const backup = await longRunning.backupDatabase({ cluster, method: 'pg_dump', label });
      const storage = await longRunning.backupStorage({ cluster, label });
      operations.push({ operation: name, ok: true, backup });
      tracker.status.backup = backup;
      tracker.metrics.backup(backup.durationMs, backup.sizeBytes);
      if (storage) tracker.status.storageBackup = storage;
      if (input.restoreBackupOnFailure) {
        // node-1 kept serving users after this backup: restoring it loses their writes, so it waits for a person to confirm.
        undo('restore the database and storage from the maintenance backup', () => restoreOnFirstNode(run, backup, storage), {
          restores: 'data',
          losesData: `restoring the backup taken at ${backup.createdAt} loses every write made on ${node} since then`,
        });
      }
      return;
    }
    try {
      // Heartbeating, and keyed by this run's label and the operation's index: a retry finds the
      // first attempt's outcome (or waits for it) instead of running `pm add` twice at once.
      const done = await longRunning.runNodeCommand({ cluster, node, command: ['yarn', 'pm', ...operation.args], commandId: label });
      operations.push({ operation: name, ok: true, output: done.output });
    } catch (error) {
      operations.push({ operation: name, ok: false, output: findDetails(error)?.output ?? describeFailure(error) });
      throw error;
    }
  }

  /** The data goes back only with node 1 stopped (nobody connected), which then starts again. */
  async function restoreOnFirstNode({ tracker, label }: ProcedureRun<string>, backup: BackupRecord, storage: StorageBackupRecord | null): Promise<void> {
    const restoreLabel = `${label}-restore`;
    await held?.hold([node]);
    await stopNodes(cluster, [node], tracker);
    await longRunning.restoreDatabase({ cluster, backup, label: restoreLabel });
    if (storage) await longRunning.restoreStorage({ cluster, backup: storage, label: restoreLabel });
    await bringUp(cluster, node, tracker, { requirePlugins: true });
    await held?.giveBack([node]);
    // Started alone and ready: whatever upgrade an add left pending has run.
    pendingUpgrade.settled();
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

/**
 * Why a maintenanceDone is not taken: only while the maintenance step waits for it, and under
 * `signed` mode only from an approver. (It authorizes nothing by itself: the decision at verify,
 * signed there, still follows. Open mode takes any name, as before: a name there proves nothing.)
 */
function maintenanceDoneRefusal(by: string, awaiting: boolean, approval: Approval | undefined): string | undefined {
  if (!awaiting) return 'maintenanceDone is taken only while the maintenance step waits for it';
  // In open mode too: whoever ends the manual work vouches for it, as an approver does for a decision.
  if (approval && !approval.isApprover(by)) return `${by} is not an approver of this cluster`;
  return undefined;
}

function manualWorkMail(node: string, signed: boolean): string {
  const { namespace, workflowId, runId } = workflowInfo();
  return [
    `${node} alone serves the application now; the other nodes are stopped and out of the load balancer.`,
    // Signed mode: each approver's copy adds the command with their own token.
    `Do the plugin management, backup or migration in the application, then tell the procedure${signed ? ' with your token below.' : ':'}`,
    ...(signed ? [] : [`  temporal workflow signal --namespace ${namespace} --workflow-id ${workflowId} --run-id ${runId} --name maintenanceDone --input '{"by":"<you>"}'`]),
  ].join('\n');
}

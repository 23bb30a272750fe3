/**
 * A lost worker, in 503 time: two worker processes poll the bench's task queue; during an
 * approved version upgrade of the stand-in cluster, the worker that holds the current step (the one
 * running its activity, or the one holding the workflow when the step runs local activities) is
 * SIGKILLed as soon as the step is seen (the NocobaseStep search attribute, read every 20 ms), once
 * per step inside the 503 window. Added = that run's 503 window − the mean window of runs without
 * a kill; "until the procedure moved on" is kill → the next step seen. Then a rolling restart:
 * each worker in turn SIGTERMed and replaced (the next only once its replacement polls), as a
 * redeploy does. And a replacement worker's start: process spawn → its "polling" line.
 *
 *   bash scripts/with-deps.sh tsx bench/worker-kill.ts [attempts per step]
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connectClient } from '../src/client/connect';
import { TASK_QUEUE_ENV } from '../src/client/task-queue';
import { STEP_ATTRIBUTE } from '../src/common/search-attributes';
import { SHUTDOWN_GRACE } from '../src/worker/create-worker';
import { firstStart, versionUpgrade } from '../src/workflows';
import { FAILOVER_TIMEOUTS } from '../src/workflows/activity-options';
import { approveSignal, statusQuery } from '../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../src/workflows/version-upgrade';
import { startWorkerProcess, type WorkerProcess } from '../test/support/worker-process';
import { machineFacts, seconds, table, writeResults } from './support/report';
import { benchCluster, outageWindow, removeBackups, startProber } from './support/upgrade-runs';

type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;
const attempts = Number(process.argv[2] ?? 2);
/** The steps inside the 503 window, in order. */
const WINDOW_STEPS = ['maintenance-page', 'stop-nodes', 'backup', 'update-image', 'start-first-node', 'verify', 'start-other-nodes', 'restore-traffic'];
const BESIDE_STEPS = new Set(['holdLoadBalancer']);
const taskQueue = `bench-kill-${randomUUID()}`;
const cluster = benchCluster('standin');
const startTimes: number[] = [];

interface Run {
  label: string;
  windowMs: number;
  /** Set when the procedure did not end upgraded: the row says why instead of a figure. */
  failed?: string;
  /** The step seen when the kill (or restart) was sent, and what ran it. */
  step?: string;
  held?: string;
  movedOnMs?: number;
}

async function startWorker(): Promise<WorkerProcess> {
  const since = Date.now();
  const worker = await startWorkerProcess({ ...process.env, [TASK_QUEUE_ENV]: taskQueue });
  startTimes.push(Date.now() - since);
  return worker;
}

/** The worker process group an identity (`<pid>@host`, the node process tsx started) belongs to. */
function workerOf(identity: string | undefined | null, workers: WorkerProcess[]): WorkerProcess | undefined {
  const pid = Number(identity?.split('@')[0]);
  if (!pid) return undefined;
  try {
    const group = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]);
    return workers.find((worker) => worker.child.pid === group);
  } catch {
    return undefined;
  }
}

/** The current step (search attribute) and the worker that holds it: its activity's, else the workflow's last task's. */
async function holderOf(client: Client, handle: Upgrade, workers: WorkerProcess[]): Promise<{ step: string | undefined; worker: WorkerProcess | undefined; held: string }> {
  const description = await handle.describe();
  const step = description.typedSearchAttributes.get(STEP_ATTRIBUTE);
  const pending = (description.raw.pendingActivities ?? []).filter((activity) => activity.lastWorkerIdentity && !BESIDE_STEPS.has(activity.activityType?.name ?? ''));
  const running = pending[0] ?? (description.raw.pendingActivities ?? []).find((activity) => activity.lastWorkerIdentity);
  if (running) return { step, worker: workerOf(running.lastWorkerIdentity, workers), held: `activity ${running.activityType?.name ?? '?'}` };
  const history = await client.workflow.getHandle(handle.workflowId).fetchHistory();
  const task = [...(history.events ?? [])].reverse().find((event) => event.workflowTaskStartedEventAttributes);
  return { step, worker: workerOf(task?.workflowTaskStartedEventAttributes?.identity, workers), held: 'the workflow (local activities, workflow tasks)' };
}

async function freshCluster(client: Client): Promise<void> {
  await client.workflow.getHandle(cluster.workflowId).terminate('bench needs the cluster').catch(() => undefined);
  await cluster.reset();
  await client.workflow.execute(firstStart, { taskQueue, workflowId: cluster.workflowId, args: [{ cluster: cluster.name }] });
}

/**
 * One approved upgrade (approved as soon as it awaits); `disturb` is called once, when `target`
 * is the step seen (for verify: once it awaits the decision, before the approval is sent).
 */
async function upgrade(client: Client, workers: WorkerProcess[], target: string | undefined, disturb: (worker: WorkerProcess | undefined) => Promise<void>): Promise<Run> {
  await freshCluster(client);
  const prober = startProber(cluster.url, 50);
  const handle = (await client.workflow.start(versionUpgrade, { taskQueue, workflowId: cluster.workflowId, args: [{ cluster: cluster.name, image: cluster.target }] })) as Upgrade;
  const ended = handle.result();
  let done = false;
  void ended.finally(() => (done = true)).catch(() => undefined);
  let approved = false;
  let disturbed: { step: string; held: string; at: number } | undefined;
  let movedOnAt: number | undefined;
  while (!done) {
    const seen = await holderOf(client, handle, workers).catch(() => undefined);
    if (seen?.step === 'verify' && !approved) {
      const status = await client.withDeadline(Date.now() + 500, () => handle.query(statusQuery)).catch(() => undefined);
      if (status?.approval?.state === 'awaiting') {
        if (target === 'verify' && !disturbed) {
          disturbed = { step: 'verify', held: seen.held, at: Date.now() };
          await disturb(seen.worker);
        }
        await handle.signal(approveSignal, { by: 'alice', comment: 'bench' });
        approved = true;
      }
    } else if (seen && seen.step !== undefined && seen.step === target && target !== 'verify' && !disturbed) {
      disturbed = { step: seen.step, held: seen.held, at: Date.now() };
      await disturb(seen.worker);
    }
    if (disturbed && movedOnAt === undefined && seen?.step && seen.step !== disturbed.step) movedOnAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const result = await ended;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const window = outageWindow(await prober.stop());
  if (result.outcome !== 'upgraded' || !window) throw new Error(`the upgrade ended ${result.outcome} (window ${JSON.stringify(window)})`);
  await removeBackups(result);
  return {
    label: target ?? 'none',
    windowMs: window.to - window.from,
    ...(disturbed ? { step: disturbed.step, held: disturbed.held } : {}),
    ...(disturbed && movedOnAt ? { movedOnMs: movedOnAt - disturbed.at } : {}),
  };
}

/** A run that failed (whatever the cause) is a row that says so; the bench goes on with the next. */
async function measured(label: string, work: () => Promise<Run>): Promise<Run> {
  try {
    return await work();
  } catch (error) {
    const message = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
    process.stderr.write(`${label}: failed: ${message}\n`);
    return { label, windowMs: Number.NaN, failed: message.slice(0, 160) };
  }
}

async function main(): Promise<void> {
  const facts = await machineFacts();
  const client = await connectClient();
  const workers = [await startWorker(), await startWorker()];
  const kills: Run[] = [];
  const baselines: Run[] = [];
  const restarts: Run[] = [];
  try {
    for (let index = 0; index < 2; index++) {
      baselines.push(await upgrade(client, workers, undefined, async () => undefined));
      process.stderr.write(`no kill: window ${seconds(baselines.at(-1)!.windowMs)}\n`);
    }
    for (const step of WINDOW_STEPS) {
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const run = await measured(step, () => upgrade(client, workers, step, async (worker) => {
          if (!worker) return;
          await worker.kill();
          workers.splice(workers.indexOf(worker), 1);
        }));
        kills.push(run);
        process.stderr.write(`kill at ${step} (${attempt}/${attempts}): window ${seconds(run.windowMs)}${run.step ? '' : ' (step passed unseen)'}\n`);
        // Two workers again for the next run, as an orchestrator brings one back.
        while (workers.length < 2) workers.push(await startWorker());
      }
    }
    for (const step of ['backup', 'start-first-node']) {
      restarts.push(await measured(step, () => upgrade(client, workers, step, async () => {
        // A rolling restart: one worker at a time, the next only once its replacement polls.
        for (const old of [...workers]) {
          const stopped = new Promise((resolve) => old.child.once('exit', resolve));
          process.kill(-old.child.pid!, 'SIGTERM');
          const replacement = await startWorker();
          workers.splice(workers.indexOf(old), 1, replacement);
          await stopped;
        }
      })));
      process.stderr.write(`rolling restart at ${step}: window ${seconds(restarts.at(-1)!.windowMs)}\n`);
    }
  } finally {
    await client.workflow.getHandle(cluster.workflowId).terminate('the bench ended').catch(() => undefined);
    for (const worker of workers) await worker.stop();
    await client.connection.close();
    await cluster.reset();
  }

  const baseline = baselines.reduce((total, run) => total + run.windowMs, 0) / baselines.length;
  const spread = Math.max(...baselines.map((run) => run.windowMs)) - Math.min(...baselines.map((run) => run.windowMs));
  const row = (run: Run) => run.failed
    ? [run.label, `failed: ${run.failed}`, '–', '–', '–', '–']
    : [run.label, run.step ? run.held ?? '' : '(passed unseen: no kill)', seconds(run.windowMs), seconds(run.windowMs - baseline), seconds(run.movedOnMs), run.windowMs - baseline <= 3_000 ? 'within 3 s' : 'over 3 s'];
  const sorted = [...startTimes].sort((a, b) => a - b);
  writeResults('worker-kill', 'A lost worker in 503 time: one SIGKILL per step of an approved upgrade (stand-in cluster, a second worker running), and a rolling restart', [
    facts,
    `Runs without a kill (two workers): 503 window ${baselines.map((run) => seconds(run.windowMs)).join(', ')} (mean ${seconds(baseline)}, spread ${seconds(spread)}: an added time below the spread is noise).`,
    table(['step killed in', 'what the killed worker held', '503 window', 'added', 'kill → next step seen', 'goal ≤ 3 s added'], kills.map(row)),
    table(['rolling restart (SIGTERM, replace, one worker at a time) during', 'held', '503 window', 'added', 'restart → next step seen', ''], restarts.map((run) => row(run).slice(0, 5).concat(['']))),
    table(['worker start → polling (spawn to its "polling" line, workflow bundle cached)', ''], [
      ['starts', String(sorted.length)],
      ['median', seconds(sorted[Math.floor(sorted.length / 2)])],
      ['fastest', seconds(sorted[0])],
      ['slowest', seconds(sorted.at(-1))],
    ]),
    table(['timeout that bounds the added time', 'value'], [
      ...Object.entries(FAILOVER_TIMEOUTS).map(([name, value]) => [name, value]),
      ['shutdownGraceTime (SIGTERM: running activities finish, then are handed back)', SHUTDOWN_GRACE],
    ]),
  ]);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/**
 * What the upgrade benches share: the real worker process (`npm run worker`'s entry point) on a
 * task queue of its own, a client, an outside prober on the load balancer, a stack cluster
 * (`standin`, the fast test fixture, or `demo`, real NocoBase) brought up from empty by
 * firstStart, and one upgrade decided by the bench the moment the status says a decision is
 * awaited (the human's part, measured so that it can be taken out).
 */
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { connectClient } from '../../src/client/connect';
import { TASK_QUEUE_ENV } from '../../src/client/task-queue';
import { ACTIVITY_TIMINGS_ENV } from '../../src/worker/activity-timings';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { loadConfig } from '../../src/config/load';
import { approveSignal, rejectSignal, statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { firstStart, versionUpgrade } from '../../src/workflows';
import { dropDerivedDatabases } from '../../scripts/stack/cluster-leftovers';
import { demoOptionsFromEnv, resetDemoCluster, standinOptionsFromEnv } from '../../scripts/stack/demo-cluster';
import { startWorkerProcess, type WorkerProcess } from '../../test/support/worker-process';
import { stackEnv } from '../../test/support/stack';
import { readTimeline, type Timeline } from './timeline';

export interface BenchCluster {
  name: 'standin' | 'demo';
  workflowId: string;
  /** Where users reach it: its load balancer. */
  url: string;
  /** The image an upgrade goes to (v2). */
  target: string;
  /** Emptied: containers recreated stopped, database and storage dropped, load balancer as after stack:up. */
  reset: () => Promise<void>;
}

export function benchCluster(name: BenchCluster['name'] = 'standin'): BenchCluster {
  const env = stackEnv();
  const options = name === 'demo' ? demoOptionsFromEnv() : standinOptionsFromEnv();
  return {
    name,
    workflowId: procedureWorkflowId(name),
    url: name === 'demo' ? env.LB_URL : env.STANDIN_LB_URL,
    target: name === 'demo' ? env.DEMO_IMAGE_V2 : env.STANDIN_IMAGE_V2,
    // Also puts the load balancer back as stack:up leaves it (servers in maintenance, switch off).
    reset: () => resetDemoCluster({ ...options, log: () => undefined }).then(() => undefined),
  };
}

export const STANDIN = 'standin';

export interface BenchStack {
  client: Client;
  worker: WorkerProcess;
  taskQueue: string;
  /** Where the worker writes its activities' own times (the local ones are in no history). */
  timingsFile: string;
  /** Throws (with the worker's last output) once the worker has exited: nothing would run the bench's procedures. */
  checkWorker: () => void;
  /** `work`, or a failure as soon as the worker exits. */
  whileWorkerRuns: <T>(work: Promise<T>) => Promise<T>;
  close: () => Promise<void>;
}

/** The production worker as a child process, on `bench-<uuid>` so that no other worker takes its tasks. */
export async function startBenchStack(): Promise<BenchStack> {
  stackEnv();
  const taskQueue = `bench-${randomUUID()}`;
  const timingsFile = path.join(tmpdir(), `${taskQueue}-activity-timings.jsonl`);
  const worker = await startWorkerProcess({ ...process.env, [TASK_QUEUE_ENV]: taskQueue, [ACTIVITY_TIMINGS_ENV]: timingsFile });
  const client = await connectClient();
  const exited = () => new Error(`the bench's worker exited (${worker.child.exitCode ?? worker.child.signalCode}):\n${worker.output().split('\n').slice(-20).join('\n')}`);
  const exit = new Promise<never>((_, reject) => worker.child.once('exit', () => reject(exited())));
  exit.catch(() => undefined);
  return {
    client,
    worker,
    taskQueue,
    timingsFile,
    checkWorker: () => {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) throw exited();
    },
    whileWorkerRuns: (work) => Promise.race([work, exit]),
    close: async () => {
      // A run the bench leaves behind (it failed midway) would hold the cluster's ID with no worker.
      for (const name of ['standin', 'demo']) {
        const handle = client.workflow.getHandle(procedureWorkflowId(name));
        const description = await handle.describe().catch(() => undefined);
        if (description?.status.name === 'RUNNING' && description.taskQueue === taskQueue) await handle.terminate('the bench ended').catch(() => undefined);
      }
      await worker.stop();
      await client.connection.close();
      await rm(timingsFile, { force: true });
    },
  };
}

/** One answer the prober got: an HTTP status, or the error code when there was no answer. */
export interface Probe {
  at: number;
  status: number | string;
  version: string | null;
}

/** A user behind the load balancer: fetches `url` every `intervalMs` and records every answer. */
export function startProber(url: string, intervalMs = 50) {
  const probes: Probe[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await response.arrayBuffer();
        probes.push({ at, status: response.status, version: response.headers.get('x-standin-version') });
      } catch (error) {
        probes.push({ at, status: (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message, version: null });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, at + intervalMs - Date.now())));
    }
  })();
  return {
    probes,
    stop: async (): Promise<Probe[]> => {
      running = false;
      await loop;
      return probes;
    },
  };
}

/**
 * What users saw: from the first answer that was not a 200 to the first 200 after the last one
 * (`version`: only a 200 of that version counts as serving again). Undefined when nothing but 200.
 */
export function outageWindow(probes: Probe[], version?: string): { from: number; to: number; statuses: string[] } | undefined {
  const first = probes.findIndex((probe) => probe.status !== 200);
  if (first < 0) return undefined;
  const serving = (probe: Probe) => probe.status === 200 && (version === undefined || probe.version === version);
  let last = first;
  for (let index = first; index < probes.length; index++) if (!serving(probes[index]!)) last = index;
  const back = probes[last + 1];
  const statuses = [...new Set(probes.slice(first, last + 1).map((probe) => String(probe.status)))];
  return { from: probes[first]!.at, to: back?.at ?? probes[last]!.at, statuses };
}

/** The cluster emptied (containers, database, storage, load balancer) and brought up on v1 by firstStart. */
export async function freshCluster(stack: BenchStack, cluster: BenchCluster = benchCluster()): Promise<{ timeline: Timeline; wallMs: number }> {
  await stack.client.workflow.getHandle(cluster.workflowId).terminate(`bench needs the ${cluster.name} cluster`).catch(() => undefined);
  await cluster.reset();
  const started = Date.now();
  const handle = await stack.client.workflow.start(firstStart, { taskQueue: stack.taskQueue, workflowId: cluster.workflowId, args: [{ cluster: cluster.name }] });
  await stack.whileWorkerRuns(handle.result());
  const wallMs = Date.now() - started;
  return { timeline: await readTimeline(stack.client, cluster.workflowId, handle.firstExecutionRunId, stack.timingsFile), wallMs };
}

export interface UpgradeRun {
  result: VersionUpgradeResult;
  timeline: Timeline;
  probes: Probe[];
  /** When the bench sent the status query that first answered `awaiting` (its send time). */
  awaitingSeenAt: number;
  /** The decision's signal as the server recorded it. */
  decidedAt: number;
  /** Start → result, as the bench saw it. */
  wallMs: number;
}

/**
 * One version upgrade of the cluster to v2, decided (`approve` or `reject`) by a signal sent as
 * soon as the status query says `awaiting`, watched by a prober on the load balancer.
 */
export async function upgradeOnce(
  stack: BenchStack,
  decision: 'approve' | 'reject',
  input: Partial<VersionUpgradeInput> = {},
  cluster: BenchCluster = benchCluster(),
  probeIntervalMs = 50,
): Promise<UpgradeRun> {
  const prober = startProber(cluster.url, probeIntervalMs);
  const started = Date.now();
  const handle = (await stack.client.workflow.start(versionUpgrade, {
    taskQueue: stack.taskQueue,
    workflowId: cluster.workflowId,
    args: [{ cluster: cluster.name, image: cluster.target, ...input }],
  })) as WorkflowHandleWithFirstExecutionRunId<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;
  let awaitingSeenAt = 0;
  for (;;) {
    const asked = Date.now();
    const status = await handle.query(statusQuery).catch(() => undefined);
    stack.checkWorker();
    if (status?.approval?.state === 'awaiting') {
      awaitingSeenAt = asked;
      break;
    }
    if (status && status.outcome !== 'running') throw new Error(`the upgrade ended before its decision: ${JSON.stringify(status.error ?? status.outcome)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (decision === 'approve') await handle.signal(approveSignal, { by: 'alice', comment: 'bench' });
  else await handle.signal(rejectSignal, { by: 'alice', reason: 'bench: rollback measured' });
  const result = await stack.whileWorkerRuns(handle.result());
  const wallMs = Date.now() - started;
  // A second of 200s after the end, so the window's end is seen.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const probes = await prober.stop();
  const timeline = await readTimeline(stack.client, cluster.workflowId, handle.firstExecutionRunId, stack.timingsFile);
  const signal = timeline.messages.find((message) => message.name === (decision === 'approve' ? 'approve' : 'reject'));
  return { result, timeline, probes, awaitingSeenAt, decidedAt: signal?.at ?? awaitingSeenAt, wallMs };
}

/**
 * Removes what an upgrade left on purpose (kept backups: dump files and archives of its label,
 * clone and set-aside databases), so that the bench leaves the disk as it found it.
 */
export async function removeBackups(result: VersionUpgradeResult): Promise<void> {
  const cluster = loadConfig().clusters[result.cluster];
  const locations = [result.backup, result.storageBackup].flatMap((backup) => (backup?.location && path.isAbsolute(backup.location) ? [backup.location] : []));
  for (const location of locations) {
    const directory = path.dirname(location);
    const base = path.basename(location);
    for (const name of await readdir(directory).catch(() => [] as string[])) {
      if (name.startsWith(base)) await rm(path.join(directory, name), { force: true });
    }
  }
  if (!cluster) return;
  const admin = new PgClient({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await dropDerivedDatabases(admin, cluster.database.database, () => undefined);
  } finally {
    await admin.end();
  }
}

/** The stack's PostgreSQL superuser (PG_ADMIN_URL): the bench creates and drops what it measures. */
export function adminUrl(): string {
  const url = process.env.PG_ADMIN_URL;
  if (!url) throw new Error('PG_ADMIN_URL is not set: run the bench through scripts/with-deps.sh with the stack up');
  return url;
}

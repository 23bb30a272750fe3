/**
 * `npm run bench:fleet [-- N… [--tuned label='{"maxConcurrentActivityTaskExecutions":300}']… | --report]`:
 * many clusters, one worker. N small stand-in clusters (2 nodes each, test/support/fleet-clusters.ts)
 * are brought up on v1, then upgraded to v2 at once by ONE worker process through one
 * `fleetUpgrade` (no canary, one wave of N, each upgrade proceeding at verify after 1 s without a
 * person). Measures the fleet's wall time relative to N = 1, the worker's CPU and peak RSS, and the
 * CPU of Temporal, PostgreSQL and dockerd (all from /proc), each step's mean time across the
 * clusters (where the time goes), and, with `--tuned`, the largest N again under other worker
 * limits. Default N: 1 10 25 50. Prints tables and writes bench/results/fleet-<date>.md (rows of
 * earlier runs the same day are kept, by variant and N). Asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectClient } from '../src/client/connect';
import { procedureWorkflowId } from '../src/common/task-queue';
import { fleetWorkflowId } from '../src/procedures/fleet-upgrade';
import { TUNING_ENV } from '../src/worker/worker-tuning';
import type { FleetUpgradeResult } from '../src/workflows/fleet-upgrade';
import type { VersionUpgradeResult } from '../src/workflows/version-upgrade';
import { fleetUpgrade } from '../src/workflows';
import { createFleetClusters } from '../test/support/fleet-clusters';
import { stackEnv } from '../test/support/stack';
import { startPrivatePostgres, type PrivatePostgres } from './support/private-postgres';
import { groupUsage, machineCpuMs, stackPid, treeCpuMs } from './support/proc-usage';
import { machineFacts, mebibytes, ratio, RESULTS_DIR, seconds, table, writeResults } from './support/report';

interface Row {
  variant: string;
  tuning: string;
  n: number;
  setupMs: number;
  bringUpMs: number;
  wallMs: number;
  outcomes: Record<string, number>;
  meanUpgradeMs: number;
  maxUpgradeMs: number;
  workerCpuMs: number;
  workerPeakRss: number;
  temporalCpuMs: number;
  postgresCpuMs: number;
  dockerdCpuMs: number;
  machineBusyMs: number;
  machineTotalMs: number;
  steps: Record<string, number>;
}

const env = stackEnv();
const args = process.argv.slice(2);
const sizes = args.filter((arg) => /^\d+$/.test(arg)).map(Number);
const variants: Array<{ variant: string; tuning: string | undefined }> = [{ variant: 'default', tuning: undefined }];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tuned') {
    const [label, json] = (args[++i] ?? '').split(/=(.*)/s);
    if (!label || !json) throw new Error('--tuned label=\'{"maxConcurrentActivityTaskExecutions":300}\'');
    variants.push({ variant: label, tuning: json });
  }
}
const onlyTuned = args.includes('--only-tuned');
const SIZES = sizes.length > 0 ? sizes : [1, 10, 25, 50];
const MAX_CONNECTIONS = 600;
const rawFile = path.join(RESULTS_DIR, `fleet-${new Date().toISOString().slice(0, 10)}.json`);

async function measure(pg: PrivatePostgres, n: number, variant: string, tuning: string | undefined): Promise<Row> {
  const prefix = `bf${randomUUID().slice(0, 5)}`;
  const log = (line: string) => console.log(`[N=${n} ${variant}] ${line}`);
  let t = Date.now();
  log('creating the clusters');
  const fleet = await createFleetClusters({ prefix, count: n, allowProceedOnTimeout: true, concurrency: 8, postgres: pg });
  const setupMs = Date.now() - t;
  const worker = await fleet.startWorker(tuning ? { [TUNING_ENV]: tuning } : {});
  const client = await connectClient();
  try {
    t = Date.now();
    log(`bringing ${n} clusters up (firstStart)`);
    await fleet.bringUp(client);
    const bringUpMs = Date.now() - t;
    const pgrp = worker.child.pid!;
    const temporal = stackPid('temporal');
    const postgres = pg.pid;
    const dockerd = stackPid('dockerd');
    const read = () => ({
      worker: groupUsage(pgrp),
      temporal: temporal ? treeCpuMs(temporal) : 0,
      postgres: postgres ? treeCpuMs(postgres) : 0,
      dockerd: dockerd ? treeCpuMs(dockerd) : 0,
      machine: machineCpuMs(),
    });
    const before = read();
    let peakRss = before.worker.rssBytes;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, groupUsage(pgrp).rssBytes)), 1000);
    log(`upgrading ${n} clusters at once`);
    t = Date.now();
    const result = (await client.workflow.execute(fleetUpgrade, {
      taskQueue: fleet.taskQueue,
      workflowId: fleetWorkflowId(prefix),
      args: [{ name: prefix, clusters: fleet.clusters, canary: false, batchSize: n, image: env.STANDIN_IMAGE_V2, upgrade: { approval: { timeout: '1s', onTimeout: 'proceed' } } }],
    })) as FleetUpgradeResult;
    const wallMs = Date.now() - t;
    clearInterval(sampler);
    const after = read();
    peakRss = Math.max(peakRss, after.worker.rssBytes);
    const outcomes: Record<string, number> = {};
    for (const entry of Object.values(result.clusters)) outcomes[entry.state] = (outcomes[entry.state] ?? 0) + 1;
    const durations = Object.values(result.clusters).map((entry) => Date.parse(entry.endedAt ?? '') - Date.parse(entry.startedAt ?? ''));
    // Where the time goes: each step's mean across the clusters, from each upgrade's own result.
    const stepTotals: Record<string, number[]> = {};
    for (const cluster of fleet.clusters) {
      const upgrade = (await client.workflow.getHandle(procedureWorkflowId(cluster), result.clusters[cluster]?.runId).result().catch(() => undefined)) as VersionUpgradeResult | undefined;
      for (const step of upgrade?.steps ?? []) {
        if (step.endedAt) (stepTotals[step.step] ??= []).push(Date.parse(step.endedAt) - Date.parse(step.startedAt));
      }
    }
    const steps = Object.fromEntries(Object.entries(stepTotals).map(([step, values]) => [step, values.reduce((a, b) => a + b, 0) / values.length]));
    log(`done in ${seconds(wallMs)}: ${JSON.stringify(outcomes)}`);
    return {
      variant, tuning: tuning ?? 'SDK defaults', n, setupMs, bringUpMs, wallMs, outcomes,
      meanUpgradeMs: durations.reduce((a, b) => a + b, 0) / durations.length,
      maxUpgradeMs: Math.max(...durations),
      workerCpuMs: after.worker.cpuMs - before.worker.cpuMs,
      workerPeakRss: peakRss,
      temporalCpuMs: after.temporal - before.temporal,
      postgresCpuMs: after.postgres - before.postgres,
      dockerdCpuMs: after.dockerd - before.dockerd,
      machineBusyMs: after.machine.busyMs - before.machine.busyMs,
      machineTotalMs: after.machine.totalMs - before.machine.totalMs,
      steps,
    };
  } finally {
    await worker.stop().catch(() => worker.kill());
    await client.connection.close();
    log('tearing down');
    await fleet.teardown();
  }
}

function report(rows: Row[], facts: string): void {
  const base = (variant: string) => rows.find((row) => row.variant === variant && row.n === 1) ?? rows.find((row) => row.variant === 'default' && row.n === 1);
  const cpu = (ms: number, row: Row) => `${seconds(ms)} (${((ms / row.wallMs) * 100).toFixed(0)} % of a core)`;
  const main = table(
    ['variant', 'N', 'wall', 'vs N=1', 'upgrade mean / max', 'outcomes', 'worker CPU', 'worker peak RSS', 'Temporal CPU', 'PostgreSQL CPU', 'dockerd CPU', `machine busy (${os.cpus().length} cores)`],
    rows.map((row) => [
      row.variant, String(row.n), seconds(row.wallMs), ratio(row.wallMs / (base(row.variant)?.wallMs ?? NaN)), `${seconds(row.meanUpgradeMs)} / ${seconds(row.maxUpgradeMs)}`,
      Object.entries(row.outcomes).map(([state, count]) => `${count} ${state}`).join(', '), cpu(row.workerCpuMs, row), mebibytes(row.workerPeakRss), cpu(row.temporalCpuMs, row),
      cpu(row.postgresCpuMs, row), cpu(row.dockerdCpuMs, row), `${((row.machineBusyMs / row.machineTotalMs) * 100).toFixed(0)} %`,
    ]),
  );
  const stepNames = [...new Set(rows.flatMap((row) => Object.keys(row.steps)))];
  const steps = table(['step (mean per cluster)', ...rows.map((row) => `N=${row.n} ${row.variant}`)], stepNames.map((step) => [step, ...rows.map((row) => seconds(row.steps[step]))]));
  const setup = table(['variant', 'N', 'create clusters (fixture)', 'firstStart of all', 'worker limits'], rows.map((row) => [row.variant, String(row.n), seconds(row.setupMs), seconds(row.bringUpMs), row.tuning]));
  writeResults('fleet', 'Many clusters, one worker: fleet upgrades of N stand-in clusters (2 nodes each)', [
    facts,
    `Wall time: the \`fleetUpgrade\` of N clusters at once (one wave, no canary), from start to result. CPU: from /proc, during that time only (Temporal: the stack's dev server; PostgreSQL: a server of the bench's own (the stack's binaries, max_connections ${MAX_CONNECTIONS}, as 50 two-node clusters hold more than the stack's 100) and its backends; dockerd: the daemon and its children; machine busy: all processes, the stand-in nodes included). Target: N=50 ≤ 1.5× N=1.`,
    main,
    'Where the time goes: each step of the clusters\' `versionUpgrade`, mean over the N clusters (verify includes the 1 s approval timeout that lets it proceed).',
    steps,
    'Setup (not measured above):',
    setup,
  ]);
}

async function main(): Promise<void> {
  const facts = await machineFacts();
  if (args.includes('--report')) {
    // The tables again from the rows kept today, nothing measured.
    report(fs.existsSync(rawFile) ? (JSON.parse(fs.readFileSync(rawFile, 'utf8')) as Row[]) : [], facts);
    return;
  }
  // The clusters' databases live on a server of the bench's own: 100 stand-in nodes hold more
  // connections than the stack's server allows (max_connections 100).
  const pg = await startPrivatePostgres(MAX_CONNECTIONS);
  const kept: Row[] = fs.existsSync(rawFile) ? (JSON.parse(fs.readFileSync(rawFile, 'utf8')) as Row[]) : [];
  const rows = [...kept];
  const record = (row: Row) => {
    rows.splice(0, rows.length, ...rows.filter((other) => !(other.variant === row.variant && other.n === row.n)), row);
    rows.sort((a, b) => (a.variant === b.variant ? a.n - b.n : a.variant === 'default' ? -1 : b.variant === 'default' ? 1 : a.variant.localeCompare(b.variant)));
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(rawFile, JSON.stringify(rows, null, 2));
  };
  for (const { variant, tuning } of variants) {
    if (variant === 'default' && onlyTuned) continue;
    // A tuned variant is measured at the largest N only; its ratio is to the default N=1.
    const ns = variant === 'default' ? SIZES : [...new Set([Math.max(...SIZES)])];
    for (const n of ns) record(await measure(pg, n, variant, tuning));
  }
  await pg.stop();
  report(rows, facts);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

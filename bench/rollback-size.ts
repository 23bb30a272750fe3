/**
 * Rollback vs database size: a versionUpgrade of the stand-in cluster rejected the moment it asks,
 * at about 10 MB and 1 GB of business data, with each backup method (`clone`, `pg_dump`). Per run:
 * the backup step's activities (inside the downtime), the restore, and what users see: the reject
 * signal (server time) → the first 200 from the OLD version at the load balancer. Target: clone
 * rollback at 1 GB ≤ 1.2 × at 10 MB. A second table times the backup's building blocks as the
 * code ran them before issue 15 and as it runs them now, on the same data (nodes stopped).
 *
 *   bash scripts/with-deps.sh tsx bench/rollback-size.ts [10MB,1GB]
 *
 * Heavy at 1 GB (minutes on 2 cores, and a few GB of disk while it runs: the data, a clone or a
 * restored copy, and four trial dumps); it drops what it made and leaves the stand-in cluster empty.
 */
import { resetDemoCluster, standinOptionsFromEnv } from '../scripts/stack/demo-cluster';
import { dockerFromHost } from '../scripts/stack/docker-build';
import { loadConfig } from '../src/config/load';
import type { BackupMethod } from '../src/common/procedure-types';
import { stackEnv } from '../test/support/stack';
import { addBusinessData, type BusinessData } from './support/business-data';
import { timeVariants, type VariantTiming } from './support/pg-variants';
import { machineFacts, mebibytes, ratio, seconds, table, writeResults } from './support/report';
import { adminUrl, freshCluster, outageWindow, removeBackups, STANDIN, startBenchStack, upgradeOnce, type Probe } from './support/upgrade-runs';
import { ownMs } from './support/timeline';
import { dockerNodesOf } from '../src/config/schema';

const SIZES: Record<string, number> = { '10MB': 10 * 2 ** 20, '1GB': 2 ** 30 };
const sizes = (process.argv[2] ?? '10MB,1GB').split(',').map((name) => {
  const bytes = SIZES[name];
  if (bytes === undefined) throw new Error(`unknown size ${name}: one of ${Object.keys(SIZES).join(', ')}`);
  return { name, bytes };
});
const METHODS: BackupMethod[] = ['clone', 'pg_dump'];

interface Row {
  size: string;
  method: BackupMethod;
  data: BusinessData;
  backupMs: number;
  storageMs: number;
  backupBytes?: number;
  restoreMs: number;
  rollbackMs: number;
  /** Of the rollback: the reject → the load-balancer watch has stopped (the undo starts only then). */
  watchMs: number;
  windowMs: number;
}

/** The reject signal → the first 200 from `version` after it. */
function backOnOldVersion(probes: Probe[], rejectedAt: number, version: string | null): number {
  const back = probes.find((probe) => probe.at >= rejectedAt && probe.status === 200 && (version === null || probe.version === version));
  return back ? back.at - rejectedAt : Number.NaN;
}

async function stopNodes(): Promise<void> {
  const docker = dockerFromHost(stackEnv().DOCKER_HOST);
  const cluster = loadConfig().clusters[STANDIN]!;
  await Promise.all(dockerNodesOf(cluster).map((node) => docker.getContainer(node.container).stop({ t: 10 }).catch(() => undefined)));
}

async function main(): Promise<void> {
  const env = stackEnv();
  const facts = await machineFacts();
  const stack = await startBenchStack();
  const rows: Row[] = [];
  const variants: { size: string; timings: VariantTiming[] }[] = [];
  try {
    for (const size of sizes) {
      await freshCluster(stack);
      const oldVersion = (await fetch(env.STANDIN_LB_URL)).headers.get('x-standin-version');
      const data = await addBusinessData(env.STANDIN_DATABASE_URL, size.bytes);
      process.stderr.write(`${size.name}: ${mebibytes(data.bytes)} of business data in ${seconds(data.generatedMs)}\n`);
      for (const method of METHODS) {
        const run = await upgradeOnce(stack, 'reject', { backupMethod: method });
        if (run.result.outcome !== 'rolled-back') throw new Error(`the upgrade ended ${run.result.outcome}`);
        const own = (type: string) => run.timeline.activities.filter((activity) => activity.type === type).reduce((total, activity) => total + ownMs(activity), 0);
        const window = outageWindow(run.probes, oldVersion ?? undefined);
        rows.push({
          size: size.name,
          method,
          data,
          backupMs: own('backupDatabase'),
          storageMs: own('backupStorage'),
          ...(run.result.backup?.sizeBytes === undefined ? {} : { backupBytes: run.result.backup.sizeBytes }),
          restoreMs: own('restoreDatabase'),
          rollbackMs: backOnOldVersion(run.probes, run.decidedAt, oldVersion),
          watchMs: Math.max(0, ...run.timeline.activities.filter((activity) => activity.type === 'holdLoadBalancer').map((activity) => (activity.closedAt ?? run.decidedAt) - run.decidedAt)),
          windowMs: window ? window.to - window.from - (run.decidedAt - run.awaitingSeenAt) : Number.NaN,
        });
        await removeBackups(run.result);
        process.stderr.write(`${size.name} ${method}: rollback ${seconds(rows.at(-1)!.rollbackMs)}\n`);
      }
      await stopNodes();
      variants.push({ size: size.name, timings: await timeVariants({ adminUrl: adminUrl(), databaseUrl: env.STANDIN_DATABASE_URL, pgBin: loadConfig().clusters[STANDIN]?.backup.pgBin ?? process.env.PGBIN ?? '' }) });
      process.stderr.write(`${size.name}: building blocks timed\n`);
    }
  } finally {
    await stack.close();
    // The business data goes with the database.
    await resetDemoCluster({ ...standinOptionsFromEnv(), log: () => undefined });
  }

  const procedure = table(
    ['business data', 'database', 'method', 'backup step: database', 'backup step: storage', 'backup size', 'restore (activity)', 'reject → old version serving', 'of which: watch stopping', '503 window − decision'],
    rows.map((row) => [
      `${row.size} (${mebibytes(row.data.bytes)})`,
      mebibytes(row.data.databaseBytes),
      row.method,
      seconds(row.backupMs),
      seconds(row.storageMs),
      mebibytes(row.backupBytes),
      seconds(row.restoreMs),
      seconds(row.rollbackMs),
      seconds(row.watchMs),
      seconds(row.windowMs),
    ]),
  );
  const clone = (size: string) => rows.find((row) => row.method === 'clone' && row.size === size)?.rollbackMs;
  const small = clone('10MB');
  const large = clone('1GB');
  const verdict =
    small !== undefined && large !== undefined
      ? `Clone rollback at 1 GB / at 10 MB: ${ratio(large / small)} (target ≤ 1.20×: ${large / small <= 1.2 ? 'within' : 'over'}).`
      : 'Clone rollback ratio: needs both sizes.';
  const names = [...new Set(variants.flatMap((entry) => entry.timings.map((timing) => `${timing.component}\u0000${timing.variant}\u0000${timing.role}`)))];
  const blocks = table(
    ['building block', 'variant', 'in the code', ...variants.map((entry) => `${entry.size}: time`), ...variants.map((entry) => `${entry.size}: size`)],
    names.map((key) => {
      const [component, variant, role] = key.split('\u0000') as [string, string, string];
      const found = variants.map((entry) => entry.timings.find((timing) => timing.component === component && timing.variant === variant));
      return [component, variant, role, ...found.map((timing) => seconds(timing?.ms)), ...found.map((timing) => (timing?.bytes === undefined ? '' : mebibytes(timing.bytes)))];
    }),
  );
  writeResults('rollback-size', 'Rollback vs database size: rejected versionUpgrade of the stand-in cluster', [
    facts,
    procedure,
    verdict,
    'The backup\'s building blocks on the same database, nodes stopped ("before": as the code ran them before issue 15; "now": as it runs them; "considered": measured, not adopted):',
    blocks,
  ]);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

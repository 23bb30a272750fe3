/**
 * `npm run bench`: how long a first start of the 3-node stand-in cluster takes on the local stack, step
 * by step, over a few runs (the stand-in cluster is reset before each). Prints a table and keeps it in
 * bench/results/first-start-<date>.md; asserts nothing.
 * Stand-in timings come from the stand-in cluster (install 3s, plugins 2s by default), so the figures
 * show the procedure's own overhead on top of what the application takes.
 */
import { randomUUID } from 'node:crypto';
import { connectClient, temporalEndpoint } from '../src/client/connect';
import { procedureWorkflowId } from '../src/common/task-queue';
import { loadConfig } from '../src/config/load';
import type { FirstStartResult } from '../src/workflows/first-start';
import { createWorker } from '../src/worker/create-worker';
import { buildDeps } from '../src/worker/deps';
import { standinOptionsFromEnv, resetDemoCluster } from '../scripts/stack/demo-cluster';
import { resetLoadBalancer } from '../test/support/stack';
import { workflowBundle } from '../test/support/workflow-bundle';
import { quietRuntime } from '../test/support/quiet-runtime';
import { firstStart } from '../src/workflows';
import { machineFacts, seconds, table, writeResults } from './support/report';

const runs = Number(process.argv[2] ?? 3);

async function main(): Promise<void> {
  quietRuntime();
  const facts = await machineFacts();
  const endpoint = temporalEndpoint();
  const deps = buildDeps(loadConfig());
  const taskQueue = `bench-${randomUUID()}`;
  const { worker, connection } = await createWorker({ endpoint, deps, taskQueue, workflowBundle: await workflowBundle() });
  const client = await connectClient(endpoint);
  const samples = new Map<string, number[]>();
  const record = (name: string, ms: number) => samples.set(name, [...(samples.get(name) ?? []), ms]);

  await worker.runUntil(async () => {
    for (let run = 1; run <= runs; run++) {
      await resetDemoCluster({ ...standinOptionsFromEnv(), log: () => undefined });
      await resetLoadBalancer();
      const started = Date.now();
      const result = (await client.workflow.execute(firstStart, {
        taskQueue,
        workflowId: procedureWorkflowId('standin'),
        args: [{ cluster: 'standin' }],
      })) as FirstStartResult;
      record('total (start to LB serving and mail sent)', Date.now() - started);
      for (const step of result.steps) record(`step ${step.step}`, Date.parse(step.endedAt ?? step.startedAt) - Date.parse(step.startedAt));
      record('node-1 wait until plugins enabled', result.nodes[0]?.waitedMs ?? 0);
      process.stderr.write(`run ${run}/${runs} done\n`);
    }
  });
  await connection.close();
  await client.connection.close();
  await deps.close();

  const rows = [...samples].map(([name, values]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    return [name, seconds(median), seconds(sorted[0] ?? 0), seconds(sorted.at(-1) ?? 0)];
  });
  writeResults('first-start', `firstStart of the 3-node stand-in cluster, ${runs} runs`, [facts, table(['firstStart on standin (3 nodes)', 'median', 'min', 'max'], rows)]);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

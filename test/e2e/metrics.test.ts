import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { taskQueue } from '../../src/client/task-queue';
import { FailureType } from '../../src/common/failure-types';
import { METRIC } from '../../src/common/metrics';
import { versionUpgrade } from '../../src/workflows';
import { approveSignal, rejectSignal, statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { readmeCommandsRunBy } from '../support/readme-commands';
import { stackEnv } from '../support/stack';

/**
 * The worker's metrics as an operator sees them: the stack's Prometheus (scripts/stack/prometheus.sh)
 * scrapes the test worker's metrics address (STACK_TEST_METRICS) every second, and these tests read
 * them back with PromQL through Prometheus's HTTP API, never from /metrics by hand.
 */
const JOB = 'nocobase-maintenance-test-worker';
const SERIES = `job="${JOB}", cluster="standin", procedure="versionUpgrade"`;

function prometheus(): { url: string; metrics: string } {
  const url = process.env.PROMETHEUS_URL;
  const metrics = process.env.STACK_TEST_METRICS;
  assert.ok(url && metrics, 'PROMETHEUS_URL and STACK_TEST_METRICS come from .stack/env (npm run stack:up starts Prometheus)');
  return { url, metrics };
}

/** An instant PromQL query; the values of the vector it returns. */
async function promql(query: string): Promise<number[]> {
  const response = await fetch(`${prometheus().url}/api/v1/query?${new URLSearchParams({ query })}`);
  const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: { value: [number, string] }[] } };
  assert.equal(body.status, 'success', `${query}: ${body.error}`);
  assert.equal(body.data.resultType, 'vector');
  return body.data.result.map((sample) => Number(sample.value[1]));
}

/** `sum(query)`, 0 when no series matches. */
async function total(query: string): Promise<number> {
  return (await promql(`sum(${query})`))[0] ?? 0;
}

/** Waits until Prometheus has scraped `query` to `expected` (scrapes are every second). */
function scraped(query: string, expected: number): Promise<true> {
  return until(`${query} = ${expected} in Prometheus`, async () => ((await total(query)) === expected ? true : undefined));
}

describe('the worker\'s metrics, scraped by the stack\'s Prometheus and read back with PromQL', () => {
  const suite = e2eSuite({ startCluster: true, workerEnv: { NOCOBASE_MAINTENANCE_METRICS: process.env.STACK_TEST_METRICS ?? '' } });

  before(async () => {
    prometheus();
    // The SDK's own worker metrics come through the same endpoint: pollers on the task queue.
    await until('the test worker scraped, its pollers counted', async () =>
      (await total(`up{job="${JOB}"}`)) === 1 && (await total(`temporal_num_pollers{job="${JOB}"}`)) > 0 ? true : undefined);
  });

  const start = () =>
    suite.client.workflow.start(versionUpgrade, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2 }] });
  const awaitingDecision = (handle: Awaited<ReturnType<typeof start>>) =>
    until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));
  const counts = async () => ({
    started: await total(`${METRIC.runsStarted}_total{${SERIES}}`),
    upgraded: await total(`${METRIC.runsEnded}_total{${SERIES}, outcome="upgraded", failure_type=""}`),
    rejected: await total(`${METRIC.runsEnded}_total{${SERIES}, outcome="rolled-back", failure_type="${FailureType.UpgradeRejected}"}`),
    windows: await total(`${METRIC.maintenancePage}_count{${SERIES}}`),
    approvalWaits: await total(`${METRIC.humanWait}_count{${SERIES}, waiting_for="approval"}`),
    rollbacks: await total(`${METRIC.rollback}_count{${SERIES}}`),
  });

  it('an approved upgrade: one run started and ended upgraded, its 503 window observed as the result measured it, the backup sized', async () => {
    const before = await counts();
    const handle = await start();
    await awaitingDecision(handle);
    await handle.signal(approveSignal, { by: 'alice' });
    const result = (await handle.result()) as VersionUpgradeResult;
    assert.equal(result.outcome, 'upgraded');
    assert.ok(result.maintenanceWindowMs !== undefined && result.backup);

    await scraped(`${METRIC.runsEnded}_total{${SERIES}, outcome="upgraded", failure_type=""}`, before.upgraded + 1);
    const after = await counts();
    assert.deepEqual(after, { ...before, started: before.started + 1, upgraded: before.upgraded + 1, windows: before.windows + 1, approvalWaits: before.approvalWaits + 1 });
    // The observation is the window the result reports, in seconds; it fell in the bucket that holds it.
    assert.deepEqual(await promql(`${METRIC.lastMaintenancePage}{${SERIES}}`), [result.maintenanceWindowMs / 1000]);
    assert.ok((await total(`${METRIC.maintenancePage}_sum{${SERIES}}`)) >= result.maintenanceWindowMs / 1000);
    assert.deepEqual(await promql(`${METRIC.backupSize}{${SERIES}}`), [result.backup.sizeBytes]);
    // Ended: no step is current, nobody is waited for.
    assert.deepEqual(await promql(`${METRIC.step}{${SERIES}} == 1`), []);
    assert.deepEqual(await promql(`${METRIC.waitingForPerson}{${SERIES}} == 1`), []);
  });

  it('a rejected upgrade: waiting for a person (1) while the approval waits, then 0; ended rolled-back by UpgradeRejected, its rollback timed', async () => {
    const before = await counts();
    const handle = await start();
    await awaitingDecision(handle);
    await scraped(`${METRIC.waitingForPerson}{${SERIES}, waiting_for="approval"}`, 1);
    // One current step while it waits, and the approval's deadline (the stand-in cluster's timeout) ahead.
    assert.equal((await promql(`${METRIC.step}{${SERIES}} == 1`)).length, 1);
    const [deadline] = await promql(`${METRIC.approvalDeadline}{${SERIES}}`);
    assert.ok(deadline !== undefined && deadline > Date.now() / 1000, `approval deadline ${deadline} is ahead`);

    await handle.signal(rejectSignal, { by: 'ops@demo.test', reason: 'metrics test' });
    const result = (await handle.result()) as VersionUpgradeResult;
    assert.equal(result.outcome, 'rolled-back');

    await scraped(`${METRIC.runsEnded}_total{${SERIES}, outcome="rolled-back", failure_type="${FailureType.UpgradeRejected}"}`, before.rejected + 1);
    const after = await counts();
    assert.deepEqual(after, { ...before, started: before.started + 1, rejected: before.rejected + 1, windows: before.windows + 1, approvalWaits: before.approvalWaits + 1, rollbacks: before.rollbacks + 1 });
    assert.deepEqual(await promql(`${METRIC.waitingForPerson}{${SERIES}, waiting_for="approval"}`), [0]);
    assert.deepEqual(await promql(`${METRIC.approvalDeadline}{${SERIES}}`), [0]);
    assert.deepEqual(await promql(`${METRIC.lastMaintenancePage}{${SERIES}}`), [result.maintenanceWindowMs! / 1000]);
  });

  it("runs the README's Observability lines against this worker and its Prometheus: the scrape and the PromQL query show both runs", async () => {
    const lines = readmeCommandsRunBy('test/e2e/metrics.test.ts');
    assert.equal(lines.length, 2, `the README's Observability block: ${JSON.stringify(lines)}`);
    // As a reader runs them after `source .stack/env`, on the test worker and the stand-in cluster.
    const run = (line: string) => promisify(execFile)('bash', ['-c', line.replaceAll('STACK_WORKER_METRICS', 'STACK_TEST_METRICS').replaceAll('cluster="demo"', 'cluster="standin"')], { env: process.env });
    const scrape = (await run(lines[0]!)).stdout;
    assert.match(scrape, /^nocobase_maintenance_runs_ended_total\{[^}]*cluster="standin"[^}]*outcome="upgraded"[^}]*\} [1-9]/m);
    assert.match(scrape, /^nocobase_maintenance_runs_ended_total\{[^}]*cluster="standin"[^}]*failure_type="UpgradeRejected"[^}]*outcome="rolled-back"[^}]*\} [1-9]/m);
    const answer = JSON.parse((await run(lines[1]!)).stdout) as { status: string; data: { result: { metric: Record<string, string> }[] } };
    assert.equal(answer.status, 'success');
    const outcomes = answer.data.result.map((sample) => `${sample.metric.outcome}/${sample.metric.failure_type ?? ''}`).sort();
    assert.deepEqual(outcomes, ['rolled-back/UpgradeRejected', 'upgraded/']);
  });
});

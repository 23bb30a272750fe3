import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, MetricsBuffer, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dataConverterFromEnv } from '../../src/client/data-converter';
import { FailureType } from '../../src/common/failure-types';
import { METRIC } from '../../src/common/metrics';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { abandonUpdate, statusQuery } from '../../src/workflows/messages';
import { failWith, mockCluster } from '../support/mock-cluster';
import { quietRuntime } from '../support/quiet-runtime';
import { startUnitEnvironment } from '../support/unit-environment';
import type { RunnerProbeInput } from '../support/workflows/runner-probe';

// The runner's metrics as the SDK receives them (a metrics buffer instead of the Prometheus
// exporter: the same meter, read in-process). test/e2e/metrics.test.ts reads them through Prometheus.

const buffer = new MetricsBuffer({ maxBufferSize: 100_000 });
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
before(async () => {
  quietRuntime(buffer);
  env = await startUnitEnvironment();
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../support/workflows/runner-probe'), logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (message) => console.error(message) } });
});
after(async () => {
  await env?.teardown();
});

interface Update { name: string; value: number; tags: Record<string, unknown> }

/** The procedure metrics emitted for `cluster` since the last call (the SDK's own are left out). */
function updates(cluster: string): Update[] {
  return [...buffer.retrieveUpdates()]
    .filter((update) => update.metric.name.startsWith('nocobase_maintenance_') && update.attributes.cluster === cluster)
    .map((update) => ({ name: update.metric.name, value: update.value, tags: { ...update.attributes } }));
}

/**
 * Runs the runner's probe on a worker that caches no workflow: every workflow task replays the
 * history from the start, so whatever a replay emitted would show up as extra updates.
 */
async function probe(
  input: Omit<RunnerProbeInput, 'cluster'>,
  overrides: Parameters<typeof mockCluster>[1] = {},
  during?: (workflowId: string, cluster: string) => Promise<Update[]>,
): Promise<{ cluster: string; updates: Update[] }> {
  const cluster = `unit-${randomUUID().slice(0, 8)}`;
  const taskQueue = `unit-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: mockCluster(cluster, overrides).activities, maxCachedWorkflows: 0, dataConverter: dataConverterFromEnv() });
  const workflowId = procedureWorkflowId(cluster);
  let before: Update[] = [];
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start('runnerProbe', { taskQueue, workflowId, args: [{ cluster, ...input }] });
    if (during) before = await during(workflowId, cluster);
    await handle.result().catch(() => undefined);
  });
  return { cluster, updates: [...before, ...updates(cluster)] };
}

const counted = (list: Update[], name: string) => list.filter((update) => update.name === name);

describe('the procedure runner\'s metrics (replay-safe workflow metric meter)', () => {
  it('a run that succeeds, replayed at every workflow task: started once, ended once with its result\'s outcome, each step current in turn and 0 at the end', async () => {
    const { cluster, updates: list } = await probe({});
    const tags = { cluster, procedure: 'firstStart' };
    assert.deepEqual(counted(list, METRIC.runsStarted).map((update) => [update.value, update.tags.cluster, update.tags.procedure]), [[1, cluster, 'firstStart']]);
    assert.deepEqual(counted(list, METRIC.runsEnded).map((update) => [update.value, update.tags.outcome, update.tags.failure_type]), [[1, 'done', '']]);
    const steps = counted(list, METRIC.step).map((update) => `${String(update.tags.step)}=${update.value}`);
    assert.deepEqual(steps, ['one=1', 'one=0', 'two=1', 'two=0', 'three=1', 'three=0', 'notify=1', 'notify=0']);
    assert.equal(counted(list, METRIC.rollback).length, 0, 'nothing was undone');
    // Bounded labels only: no run or workflow ID.
    const labels = new Set(list.flatMap((update) => Object.keys(update.tags)));
    assert.deepEqual([...labels].sort(), ['cluster', 'failure_type', 'namespace', 'outcome', 'procedure', 'result', 'step', 'taskQueue', 'workflowType'].filter((label) => labels.has(label)));
    assert.ok(['cluster', 'procedure'].every((label) => labels.has(label)));
    assert.ok(list.every((update) => update.tags.procedure === tags.procedure));
  });

  it('an answer (rejection): ended rolled-back with its failure type, the undo timed', async () => {
    const { updates: list } = await probe({ answer: true });
    assert.deepEqual(counted(list, METRIC.runsEnded).map((update) => [update.tags.outcome, update.tags.failure_type]), [['rolled-back', FailureType.UpgradeRejected]]);
    assert.equal(counted(list, METRIC.rollback).length, 1);
  });

  it('a failure: ended failed by its failure type', async () => {
    const { updates: list } = await probe({ failAt: 'two' });
    assert.deepEqual(counted(list, METRIC.runsEnded).map((update) => [update.tags.outcome, update.tags.failure_type]), [['failed', FailureType.NodeExited]]);
    assert.equal(counted(list, METRIC.runsStarted).length, 1);
  });

  it('a blocked rollback: waiting for a person (1) and counted once while blocked, 0 once abandoned; ended abandoned as RollbackFailed', async () => {
    let whileBlocked: Update[] = [];
    const { updates: list } = await probe({ failAt: 'three' }, { stopNode: ({ node }) => (node === 'node-2' ? failWith('DockerDown') : undefined) }, async (workflowId, cluster) => {
      const handle = env.client.workflow.getHandle(workflowId);
      for (;;) {
        if ((await handle.query(statusQuery)).rollback?.state === 'blocked') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      whileBlocked = updates(cluster);
      await handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice', reason: 'node-2 is gone for good' }] });
      return whileBlocked;
    });
    assert.deepEqual(counted(whileBlocked, METRIC.waitingForPerson).map((update) => [update.tags.waiting_for, update.value]), [['rollback', 1]]);
    assert.deepEqual(counted(whileBlocked, METRIC.rollbackBlocked).map((update) => update.value), [1]);
    assert.deepEqual(counted(whileBlocked, METRIC.runsEnded), []);
    const after = list.slice(whileBlocked.length);
    assert.deepEqual(counted(after, METRIC.waitingForPerson).map((update) => [update.tags.waiting_for, update.value]), [['rollback', 0]]);
    assert.deepEqual(counted(after, METRIC.humanWait).map((update) => update.tags.waiting_for), ['rollback']);
    assert.deepEqual(counted(after, METRIC.runsEnded).map((update) => [update.tags.outcome, update.tags.failure_type]), [['abandoned', FailureType.RollbackFailed]]);
    assert.deepEqual(counted(list, METRIC.rollbackBlocked).length, 1, 'counted once, whatever replays');
  });
});

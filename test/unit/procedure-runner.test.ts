import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { statusQuery } from '../../src/workflows/messages';
import { failWith, mockCluster } from '../support/mock-cluster';
import { startUnitEnvironment } from '../support/unit-environment';
import type { RunnerProbeInput } from '../support/workflows/runner-probe';

// The rules every procedure inherits from src/workflows/procedure.ts, proven once on a probe
// workflow of three steps instead of once per procedure.

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
before(async () => {
  env = await startUnitEnvironment();
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../support/workflows/runner-probe'), logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (message) => console.error(message) } });
});
after(async () => {
  await env?.teardown();
});

async function probe(input: Omit<RunnerProbeInput, 'cluster'>, overrides: Parameters<typeof mockCluster>[1] = {}, during?: (workflowId: string) => Promise<void>) {
  const cluster = `unit-${randomUUID().slice(0, 8)}`;
  const mock = mockCluster(cluster, overrides);
  const taskQueue = `unit-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: mock.activities });
  const workflowId = procedureWorkflowId(cluster);
  const outcome = await worker.runUntil(async () => {
    const handle = await env.client.workflow.start('runnerProbe', { taskQueue, workflowId, args: [{ cluster, ...input }] });
    await during?.(workflowId);
    const ended = await handle.result().then(
      (result) => ({ result: result as Record<string, unknown>, error: undefined }),
      (error: unknown) => ({ result: undefined, error }),
    );
    // A closed workflow's query is answered by a worker replaying it: ask while this one runs.
    // (A run refused before it began has no status to ask for.)
    return { ...ended, status: await handle.query(statusQuery).catch(() => undefined) };
  });
  return { ...outcome, calls: mock.calls };
}

function applicationFailure(error: unknown): ApplicationFailure {
  assert.ok(error instanceof WorkflowFailedError, `expected the workflow to fail, got ${String(error)}`);
  assert.ok(error.cause instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error.cause)}`);
  return error.cause;
}

const undos = (calls: string[]) => calls.filter((call) => /^stopNode:node-\d$/.test(call));

describe('the procedure runner', () => {
  it('undoes every step newest first and fails with the failing step\'s type, listing each undo', async () => {
    const { error, calls, status } = await probe({ failAt: 'two' });
    const failure = applicationFailure(error);
    assert.equal(failure.type, FailureType.NodeExited);
    assert.match(failure.message, /the probe of unit-\w+ failed at step two and was undone: two broke/);
    assert.deepEqual(undos(calls), ['stopNode:node-2', 'stopNode:node-1']);
    assert.ok(!calls.includes('startNode:node-3'), 'no step runs after the failure');
    const [details] = failure.details as [{ step: string; compensations: { step: string; ok: boolean }[] }];
    assert.equal(details.step, 'two');
    assert.deepEqual(details.compensations, [{ step: 'stop node-2', ok: true }, { step: 'stop node-1', ok: true }]);
    assert.equal(status?.outcome, 'failed');
    assert.deepEqual(status?.compensations, details.compensations);
    assert.ok(calls.includes('sendNotification'), 'the failure is mailed');
  });

  it('fails as RollbackFailed, naming both errors, when an undo fails and that matters', async () => {
    const { error, calls } = await probe({ failAt: 'three' }, { stopNode: ({ node }) => (node === 'node-2' ? failWith('DockerDown') : undefined) });
    const failure = applicationFailure(error);
    assert.equal(failure.type, FailureType.RollbackFailed);
    assert.match(failure.message, /NodeExited: three broke\) and the undo failed: stop node-2: DockerDown/);
    assert.deepEqual(undos(calls), ['stopNode:node-3', 'stopNode:node-2', 'stopNode:node-1'], 'the other undos still run');
    const [details] = failure.details as [{ cause: { type: string }; compensations: { ok: boolean }[]; nodes: unknown }];
    assert.equal(details.cause.type, FailureType.NodeExited);
    assert.deepEqual(details.compensations.map((outcome) => outcome.ok), [true, false, true]);
  });

  it('keeps the step\'s own type when a failed undo does not endanger the cluster', async () => {
    const { error } = await probe({ failAt: 'three', undoFailureIsFatal: false }, { stopNode: ({ node }) => (node === 'node-1' ? failWith('DockerDown') : undefined) });
    const failure = applicationFailure(error);
    assert.equal(failure.type, FailureType.NodeExited);
    assert.match(failure.message, /and the undo failed: three broke/);
  });

  it('turns an answer such as a rejection into an outcome, after undoing everything', async () => {
    const { result, error, calls, status } = await probe({ answer: true });
    assert.equal(error, undefined);
    assert.equal(result?.outcome, 'rolled-back');
    assert.equal(result?.reason, 'rejected by alice');
    assert.deepEqual(undos(calls), ['stopNode:node-3', 'stopNode:node-2', 'stopNode:node-1']);
    assert.equal(status?.outcome, 'rolled-back');
  });

  it('runs every undo to completion when cancelled, then ends cancelled', async () => {
    const { error, calls, status } = await probe({ wait: true }, {}, async (workflowId) => {
      const handle = env.client.workflow.getHandle(workflowId);
      for (let tries = 0; (await handle.query(statusQuery)).step !== 'three' && tries < 100; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
      await handle.cancel();
    });
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure, `expected a cancelled workflow, got ${String(error)}`);
    assert.deepEqual(undos(calls), ['stopNode:node-3', 'stopNode:node-2', 'stopNode:node-1']);
    assert.ok(calls.includes('stopNode:node-1:done'), 'cancelling the workflow does not cancel its undo');
    assert.equal(status?.outcome, 'failed');
  });

  it('sends the outcome mail as the last step of a procedure that completed', async () => {
    const { result, calls, status } = await probe({});
    assert.equal(result?.outcome, 'done');
    assert.deepEqual(status?.steps.map((entry) => entry.step), ['one', 'two', 'three', 'notify']);
    assert.equal(calls.at(-2), 'sendNotification');
    assert.equal(undos(calls).length, 0);
  });

  it('refuses "dryRun" that is not a boolean instead of running the real procedure', async () => {
    const { error, calls } = await probe({ dryRun: 'true' as unknown as boolean });
    const failure = applicationFailure(error);
    assert.equal(failure.type, FailureType.InvalidInput);
    assert.match(failure.message, /"dryRun" must be true or false, got "true"/);
    assert.deepEqual(calls, [], 'nothing was touched');
  });
});

import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dataConverterFromEnv } from '../../src/client/data-converter';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { abandonUpdate, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import { failWith, heartbeatUntil, mockCluster } from '../support/mock-cluster';
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
  mockCalls = mock.calls;
  const taskQueue = `unit-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: mock.activities, maxHeartbeatThrottleInterval: '1s', dataConverter: dataConverterFromEnv() });
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

/** The calls of the probe under way, for checks made while it runs. */
let mockCalls: string[] = [];

async function untilStatus(workflowId: string, what: (status: ProcedureStatus) => boolean): Promise<ProcedureStatus> {
  const handle = env.client.workflow.getHandle(workflowId);
  for (let i = 0; i < 200; i++) {
    const status = await handle.query(statusQuery).catch(() => undefined);
    if (status && what(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail('the probe never got there');
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

  it('does not run an undo whose needs failed, asks a person, and fails as RollbackFailed once abandoned', async () => {
    const { error, calls, status } = await probe({ failAt: 'three' }, { stopNode: ({ node }) => (node === 'node-2' ? failWith('DockerDown') : undefined) }, async (workflowId) => {
      const handle = env.client.workflow.getHandle(workflowId);
      await untilStatus(workflowId, (status) => status.rollback?.state === 'blocked');
      await handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice', reason: 'node-2 is gone for good' }] });
    });
    const failure = applicationFailure(error);
    assert.equal(failure.type, FailureType.RollbackFailed);
    assert.match(failure.message, /NodeExited: three broke\) and the undo failed: stop node-2: DockerDown/);
    assert.match(failure.message, /abandoned by alice: node-2 is gone for good/);
    assert.deepEqual(undos(calls), ['stopNode:node-3', 'stopNode:node-2', 'stopNode:node-1'], 'undos that need nothing still run');
    const [details] = failure.details as [{ cause: { type: string }; compensations: { ok: boolean }[]; nodes: unknown }];
    assert.equal(details.cause.type, FailureType.NodeExited);
    assert.deepEqual(details.compensations.map((outcome) => outcome.ok), [true, false, true]);
    assert.equal(status?.rollback?.state, 'abandoned');
    assert.ok(calls.filter((call) => call === 'sendNotification').length >= 2, 'the block and the end are both mailed');
  });

  it('retries an undo that fails for a moment (a dockerd restart) until it succeeds, without asking anyone', async () => {
    let failures = 0;
    const { error, status } = await probe({ failAt: 'two' }, {
      stopNode: ({ node }) => {
        // Longer than the activity's own retries (5 attempts), so the undo itself must try again.
        if (node === 'node-1' && failures < 6) {
          failures += 1;
          throw ApplicationFailure.create({ message: 'connect ECONNREFUSED /run/docker.sock', type: 'DockerUnavailable' });
        }
      },
    });
    const failure = applicationFailure(error);
    assert.equal(failure.type, FailureType.NodeExited, 'a permanent undo failure would have been RollbackFailed');
    assert.equal(status?.rollback, undefined, 'nobody was asked');
    assert.equal(failures, 6);
  });

  it('cancels the siblings of a failed parallel branch and undoes only once they have settled', async () => {
    let startedThree: () => void = () => undefined;
    const threeWaiting = new Promise<void>((resolve) => (startedThree = resolve));
    const { error, calls } = await probe({ parallel: true }, {
      startNode: async ({ node }) => {
        if (node === 'node-4') {
          await threeWaiting;
          failWith(FailureType.NodeExited, 'node-4 exited');
        }
      },
      waitNodeReady: async ({ node }) => {
        if (node === 'node-3') {
          startedThree();
          await heartbeatUntil(new Promise(() => undefined));
        }
      },
    });
    assert.equal(applicationFailure(error).type, FailureType.NodeExited);
    const firstUndo = calls.findIndex((call) => /^stopNode:/.test(call));
    assert.ok(calls.indexOf('waitNodeReady:node-3') < firstUndo, 'the sibling was under way');
    assert.ok(!calls.slice(firstUndo).some((call) => /^(startNode|waitNodeReady):/.test(call)), `no forward work after the first undo: ${calls.join(' ')}`);
    assert.deepEqual(undos(calls).slice(0, 2).sort(), ['stopNode:node-3', 'stopNode:node-4']);
  });

  it('leaves the new state serving after the point of no return, and undoes nothing from before it unless confirmed', async () => {
    const { error, calls, status } = await probe({ pointOfNoReturn: true }, {}, async (workflowId) => {
      const handle = env.client.workflow.getHandle(workflowId);
      const blocked = await untilStatus(workflowId, (status) => status.rollback?.state === 'blocked');
      assert.match(blocked.rollback?.dataLoss ?? '', /loses what they did since/);
      // Only what came after the point (node-3) is undone on its own; what users work on stays.
      assert.deepEqual(undos(mockCalls), ['stopNode:node-3'], 'nothing from before the point of no return is undone on its own');
      await handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice', reason: 'the CDN answers again; keep the new version' }] });
    });
    const failure = applicationFailure(error);
    assert.equal(failure.type, FailureType.LoadBalancerNotServing);
    assert.match(failure.message, /after the point of no return .* the new state keeps serving, abandoned by alice/);
    assert.deepEqual(undos(calls), ['stopNode:node-3']);
    assert.ok(status?.pointOfNoReturn);
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

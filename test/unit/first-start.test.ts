import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { statusQuery } from '../../src/workflows/messages';
import type { FirstStartInput, FirstStartResult } from '../../src/workflows/first-start';
import { failWith, heartbeatUntil, mockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';
import { firstStart } from '../../src/workflows';
import { notReads } from '../support/preflight-reads';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const uniqueCluster = () => `unit-${randomUUID().slice(0, 8)}`;

async function runFirstStart(cluster: string, activities: ReturnType<typeof mockCluster>['activities'], input: unknown = { cluster }) {
  return withMockedWorker(env, activities, (taskQueue) =>
    env.client.workflow.execute(firstStart, { taskQueue, workflowId: procedureWorkflowId(cluster), args: [input as FirstStartInput] }) as Promise<FirstStartResult>,
  );
}

/** The failure a workflow ended with, unwrapped to its ApplicationFailure. */
async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => assert.fail('the workflow was expected to fail'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  assert.ok(error.cause instanceof ApplicationFailure, `expected an ApplicationFailure cause, got ${String(error.cause)}`);
  return error.cause;
}

describe('firstStart workflow', () => {
  it('starts the first node alone, waits for its plugins, then the others, then the load balancer and mail', async () => {
    const cluster = uniqueCluster();
    const { activities, calls } = mockCluster(cluster);
    const result = await runFirstStart(cluster, activities);

    const started = calls.filter((call) => /^(describeCluster|checkDatabase|ensureImages|startNode:node-1|waitNodeReady:node-1)$/.test(call));
    assert.deepEqual(started, ['describeCluster', 'checkDatabase', 'ensureImages', 'startNode:node-1', 'waitNodeReady:node-1']);
    const firstReady = calls.indexOf('waitNodeReady:node-1:done');
    for (const other of ['startNode:node-2', 'startNode:node-3']) {
      assert.ok(calls.indexOf(other) > firstReady, `${other} must come after node-1 is ready: ${calls.join(' ')}`);
    }
    const lastOtherReady = Math.max(calls.indexOf('waitNodeReady:node-2:done'), calls.indexOf('waitNodeReady:node-3:done'));
    assert.ok(calls.indexOf('setLoadBalancerServers:ready') > lastOtherReady, 'traffic only after every node is ready');
    assert.ok(calls.indexOf('setMaintenanceMode:off') < calls.indexOf('setLoadBalancerServers:ready'));
    assert.equal(calls.at(-2), 'sendNotification');
    assert.ok(!calls.some((call) => call.startsWith('stopNode')), 'nothing is undone on success');

    assert.equal(result.firstNode, 'node-1');
    assert.deepEqual(result.nodes.map((node) => node.node), ['node-1', 'node-2', 'node-3']);
    assert.equal(result.notification.sent, true);
    assert.deepEqual(result.steps.map((step) => step.step), ['preflight', 'start-first-node', 'start-other-nodes', 'enable-load-balancer', 'notify']);
  });

  it('asks only the first node to have its plugins enabled', async () => {
    const cluster = uniqueCluster();
    const asked: Record<string, boolean> = {};
    const { activities } = mockCluster(cluster, {
      waitNodeReady: ({ node, requirePlugins }) => {
        asked[node] = requirePlugins;
      },
    });
    await runFirstStart(cluster, activities);
    assert.deepEqual(asked, { 'node-1': true, 'node-2': false, 'node-3': false });
  });

  it('stops only the first node and fails as NodeNotReady when it never becomes ready', async () => {
    const cluster = uniqueCluster();
    const { activities, calls } = mockCluster(cluster, {
      waitNodeReady: ({ node }) => (node === 'node-1' ? failWith(FailureType.NodeNotReady) : undefined),
    });
    const failure = await failureOf(runFirstStart(cluster, activities));

    assert.equal(failure.type, FailureType.NodeNotReady);
    assert.match(failure.message, /failed at step start-first-node/);
    assert.ok(!calls.includes('startNode:node-2') && !calls.includes('startNode:node-3'), 'no other node may start');
    assert.deepEqual(calls.filter((call) => call.startsWith('stopNode') && !call.endsWith(':done')), ['stopNode:node-1']);
    assert.ok(calls.includes('sendNotification'), 'the failure is mailed');
  });

  it('undoes in reverse order when the load balancer refuses, and keeps the failure type', async () => {
    const cluster = uniqueCluster();
    const { activities, calls } = mockCluster(cluster, {
      waitLoadBalancerServing: () => failWith(FailureType.LoadBalancerNotServing),
    });
    const failure = await failureOf(runFirstStart(cluster, activities));

    assert.equal(failure.type, FailureType.LoadBalancerNotServing);
    const undo = calls.filter((call) => /^(stopNode:node-\d|setLoadBalancerServers:maint)$/.test(call));
    assert.deepEqual(undo, ['setLoadBalancerServers:maint', 'stopNode:node-3', 'stopNode:node-2', 'stopNode:node-1']);
    const [details] = failure.details as [{ compensations: { step: string; ok: boolean }[] }];
    assert.deepEqual(details.compensations.map((outcome) => outcome.ok), [true, true, true, true]);
  });

  it('reports a compensation that fails instead of hiding it, and still runs the others', async () => {
    const cluster = uniqueCluster();
    const { activities, calls } = mockCluster(cluster, {
      waitNodeReady: ({ node }) => (node === 'node-3' ? failWith(FailureType.NodeExited) : undefined),
      stopNode: ({ node }) => (node === 'node-2' ? failWith('DockerDown') : undefined),
    });
    const failure = await failureOf(runFirstStart(cluster, activities));

    assert.equal(failure.type, FailureType.NodeExited);
    const [details] = failure.details as [{ compensations: { step: string; ok: boolean; error?: string }[] }];
    assert.deepEqual(
      details.compensations.map(({ step, ok }) => [step, ok]),
      [['stop node-3', true], ['stop node-2', false], ['stop node-1', true]],
    );
    assert.match(details.compensations[1]?.error ?? '', /DockerDown/);
    assert.ok(calls.includes('stopNode:node-1:done'));
  });

  it('refuses a cluster with running nodes before touching anything', async () => {
    const cluster = uniqueCluster();
    const mock = mockCluster(cluster);
    mock.plan.nodes[1] = { ...mock.plan.nodes[1]!, running: true, state: 'running' };
    const failure = await failureOf(runFirstStart(cluster, mock.activities));

    assert.equal(failure.type, FailureType.ClusterNotStopped);
    assert.match(failure.message, /node-2/);
    assert.ok(!mock.calls.some((call) => /^(startNode|stopNode|setLoadBalancerServers|ensureImages)/.test(call)), mock.calls.join(' '));
  });

  it('refuses malformed input and a foreign workflow ID before any activity runs', async () => {
    const cluster = uniqueCluster();
    const mock = mockCluster(cluster);
    const badInput = await failureOf(runFirstStart(cluster, mock.activities, { cluster, nodes: 3 }));
    assert.equal(badInput.type, FailureType.InvalidInput);
    assert.match(badInput.message, /unknown input key\(s\) nodes/);

    const badId = await failureOf(
      withMockedWorker(env, mock.activities, (taskQueue) =>
        env.client.workflow.execute(firstStart, { taskQueue, workflowId: `whatever-${cluster}`, args: [{ cluster }] }),
      ),
    );
    assert.equal(badId.type, FailureType.InvalidWorkflowId);
    assert.deepEqual(mock.calls, []);
  });

  it('refuses to start on a blackout day unless forced, and records the reason when forced', async () => {
    const blackout = { today: '2026-12-24', timeZone: 'UTC', period: { from: '2026-12-20', to: '2027-01-02', reason: 'holiday freeze' } };
    const refused = mockCluster(uniqueCluster(), { checkBlackout: async () => blackout });
    const failure = await failureOf(runFirstStart(refused.plan.cluster, refused.activities));
    assert.equal(failure.type, FailureType.InBlackout);
    assert.match(failure.message, /holiday freeze/);
    const asked = refused.calls.filter((call) => !call.endsWith(':done') && call !== 'sendNotification');
    assert.ok(asked.includes('checkBlackout'), asked.join(' '));
    assert.deepEqual(notReads(asked), [], 'nothing but the pre-flight\'s reads and the refusal mail');

    // Read at the same moment as the blackout calendar, a database that is down is reported only
    // once the blackout no longer refuses: the blackout is judged first.
    const downToo = mockCluster(uniqueCluster(), { checkBlackout: async () => blackout, checkDatabase: () => failWith(FailureType.DatabaseUnreachable, 'connect ECONNREFUSED') });
    assert.equal((await failureOf(runFirstStart(downToo.plan.cluster, downToo.activities))).type, FailureType.InBlackout);

    const forced = mockCluster(uniqueCluster(), { checkBlackout: async () => blackout });
    const cluster = forced.plan.cluster;
    const status = await withMockedWorker(env, forced.activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(firstStart, { taskQueue, workflowId: procedureWorkflowId(cluster), args: [{ cluster, force: { reason: 'outage fix' } }] });
      await handle.result();
      return handle.query(statusQuery);
    });
    assert.equal(status.forced?.reason, 'outage fix');
    assert.ok(forced.calls.includes('startNode:node-1'));
  });

  it('succeeds and records why when the notification cannot be sent', async () => {
    const cluster = uniqueCluster();
    const { activities } = mockCluster(cluster, { sendNotification: () => failWith('SmtpDown', 'connection refused') });
    const result = await runFirstStart(cluster, activities);
    assert.equal(result.notification.sent, false);
    assert.match(result.notification.reason ?? '', /connection refused/);
  });

  it('undoes what it started when cancelled while waiting, and reports it in the status query', async () => {
    const cluster = uniqueCluster();
    let release: () => void = () => undefined;
    let unblock: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (release = resolve));
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    const { activities, calls } = mockCluster(cluster, {
      waitNodeReady: async ({ node }) => {
        if (node === 'node-2') {
          release();
          // A wait that never ends on its own, until the test is over; like the real wait it
          // heartbeats, so a cancellation reaches it.
          await heartbeatUntil(blocked);
        }
      },
    });
    await withMockedWorker(env, activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(firstStart, { taskQueue, workflowId: procedureWorkflowId(cluster), args: [{ cluster }] });
      await waiting;
      const during = await handle.query(statusQuery);
      assert.equal(during.step, 'start-other-nodes');
      assert.equal(during.nodes['node-1']?.state, 'ready');
      await handle.cancel();
      const error = await handle.result().then(() => undefined, (caught: unknown) => caught);
      assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure, `expected cancellation, got ${String(error)}`);
      const after = await handle.query(statusQuery);
      assert.equal(after.outcome, 'failed');
      assert.deepEqual(after.compensations?.map((outcome) => outcome.step), ['stop node-3', 'stop node-2', 'stop node-1']);
      unblock();
    });
    assert.ok(calls.includes('stopNode:node-1:done'));
  });
});

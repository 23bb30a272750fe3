import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import type { DryRunPlan } from '../../src/workflows/dry-run';
import type { FirstStartResult } from '../../src/workflows/first-start';
import type { InAppMaintenanceResult } from '../../src/workflows/in-app-maintenance';
import { approveSignal, rejectSignal, statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { mockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';

// Service splitting: node-1 is a WORKER_MODE node, so node-2 is the first app node. Listing the
// worker first in the config proves the order comes from roles, not from the config's order.

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const WORKER = 'node-1';

/** A mocked cluster whose node-1 is a worker, recording every node list the load balancer is given. */
function splitCluster(running: boolean, workers: string[] = [WORKER]) {
  const lbNodes: string[][] = [];
  const record = ({ nodes }: { nodes: string[] }) => {
    lbNodes.push(nodes);
  };
  const held: string[][] = [];
  const mock = mockCluster(`unit-${randomUUID().slice(0, 8)}`, {
    setLoadBalancerServers: record,
    waitServersDrained: record,
    waitLoadBalancerServing: record,
    holdLoadBalancer: ({ servers }) => {
      held.push(servers.map((server) => server.node));
    },
  });
  for (const node of mock.plan.nodes) Object.assign(node, { running, state: running ? 'running' : 'created', role: workers.includes(node.name) ? 'worker' : 'app' });
  return { ...mock, lbNodes, held, lbTouched: () => [...lbNodes, ...held].flat() };
}
type Split = ReturnType<typeof splitCluster>;

async function run<T>(mock: Split, workflow: string, input: Record<string, unknown>, body: (handle: WorkflowHandle) => Promise<T>): Promise<T> {
  const cluster = mock.plan.cluster;
  return withMockedWorker(env, mock.activities, async (taskQueue) =>
    body(await env.client.workflow.start(workflow, { taskQueue, workflowId: procedureWorkflowId(cluster), args: [{ cluster, ...input }] })),
  );
}

async function untilAwaiting(handle: WorkflowHandle): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await handle.query(statusQuery)).approval?.state === 'awaiting') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail('never asked for a decision');
}

/** Index of a call, failing the test when it is missing; `last` for calls a rollback repeats. */
function at(calls: string[], call: string, last = false): number {
  const index = last ? calls.lastIndexOf(call) : calls.indexOf(call);
  assert.ok(index >= 0, `${call} missing: ${calls.join(' ')}`);
  return index;
}

describe('worker nodes (WORKER_MODE)', () => {
  it('firstStart starts the first app node alone, then the other app node, the worker last, and never puts the worker in the load balancer', async () => {
    const mock = splitCluster(false);
    const result = (await run(mock, 'firstStart', {}, (handle) => handle.result())) as FirstStartResult;
    const { calls } = mock;
    assert.equal(calls.filter((call) => call.startsWith('startNode:'))[0], 'startNode:node-2', 'an app node starts first');
    assert.ok(at(calls, 'waitNodeReady:node-2:done') < at(calls, 'startNode:node-3'));
    assert.ok(at(calls, 'waitNodeReady:node-3:done') < at(calls, `startNode:${WORKER}`), 'the worker comes back after every app node');
    assert.ok(at(calls, `waitNodeReady:${WORKER}:done`) < at(calls, 'setLoadBalancerServers:ready'), 'its readiness is still awaited');
    assert.ok(!mock.lbTouched().includes(WORKER), `the worker was given to the load balancer: ${JSON.stringify(mock.lbNodes)}`);
    assert.deepEqual(mock.lbNodes.at(-1), ['node-2', 'node-3']);
    assert.equal(result.firstNode, 'node-2');
    assert.deepEqual(result.nodes.map((node) => node.node), ['node-2', 'node-3', WORKER]);
  });

  it('versionUpgrade upgrades an app node alone, then the other app node, the worker last, and gives traffic to app nodes only', async () => {
    const mock = splitCluster(true);
    const result = await run(mock, 'versionUpgrade', { image: 'registry.test/nocobase:1.7.0' }, async (handle): Promise<VersionUpgradeResult> => {
      await untilAwaiting(handle);
      await handle.signal(approveSignal, { by: 'alice' });
      return handle.result();
    });
    const { calls } = mock;
    assert.equal(result.outcome, 'upgraded');
    assert.equal(calls.filter((call) => call.startsWith('replaceNodeImage:'))[0], 'replaceNodeImage:node-2');
    assert.ok(at(calls, `stopNode:${WORKER}`) < at(calls, 'backupDatabase'), 'the worker is stopped like the others');
    assert.ok(at(calls, 'waitNodeReady:node-3:done') < at(calls, `replaceNodeImage:${WORKER}`), 'the worker comes back after every app node');
    assert.ok(at(calls, `waitNodeReady:${WORKER}:done`) < at(calls, 'setLoadBalancerServers:ready'));
    assert.ok(!mock.lbTouched().includes(WORKER), `the worker was given to the load balancer: ${JSON.stringify(mock.lbNodes)}`);
  });

  it('versionUpgrade rolls back app nodes first and the worker last, out of the load balancer', async () => {
    const mock = splitCluster(true);
    const result = await run(mock, 'versionUpgrade', { image: 'registry.test/nocobase:1.7.0' }, async (handle): Promise<VersionUpgradeResult> => {
      await untilAwaiting(handle);
      await handle.signal(rejectSignal, { by: 'alice', reason: 'no' });
      return handle.result();
    });
    const { calls } = mock;
    assert.equal(result.outcome, 'rolled-back');
    const restored = at(calls, 'restoreDatabase:done');
    const starts = calls.slice(restored).filter((call) => /^startNode:node-\d$/.test(call));
    assert.deepEqual(starts, ['startNode:node-2', 'startNode:node-3', `startNode:${WORKER}`]);
    assert.ok(at(calls, 'waitNodeReady:node-3:done', true) < at(calls, `startNode:${WORKER}`, true));
    assert.ok(!mock.lbTouched().includes(WORKER), `the worker was given to the load balancer: ${JSON.stringify(mock.lbNodes)}`);
  });

  it('inAppMaintenance keeps an app node, stops the worker without draining it, and brings it back last', async () => {
    const mock = splitCluster(true);
    const result = await run(mock, 'inAppMaintenance', { operations: [{ type: 'pm', args: ['enable', 'map'] }] }, async (handle): Promise<InAppMaintenanceResult> => {
      await untilAwaiting(handle);
      await handle.signal(approveSignal, { by: 'alice' });
      return handle.result();
    });
    const { calls } = mock;
    assert.equal(result.node, 'node-2', 'the kept node is the first app node');
    assert.ok(at(calls, 'runNodeCommand:node-2') > at(calls, `stopNode:${WORKER}`));
    assert.ok(!calls.includes('stopNode:node-2'));
    assert.deepEqual(mock.lbNodes[0], ['node-3'], 'only the other app node is drained');
    assert.ok(at(calls, 'waitNodeReady:node-3:done') < at(calls, `startNode:${WORKER}`), 'the worker comes back after every app node');
    assert.ok(!mock.lbTouched().includes(WORKER), `the worker was given to the load balancer: ${JSON.stringify([mock.lbNodes, mock.held])}`);
    assert.deepEqual(mock.held[0], ['node-2', 'node-3']);
  });

  it('dry runs show each node\'s role and the order they come back in', async () => {
    const mock = splitCluster(true);
    const plan = (await run(mock, 'versionUpgrade', { image: 'registry.test/nocobase:1.7.0', dryRun: true }, (handle) => handle.result())) as DryRunPlan;
    assert.deepEqual(plan.nodes.map((node) => [node.name, node.role]), [[WORKER, 'worker'], ['node-2', 'app'], ['node-3', 'app']]);
    assert.deepEqual(plan.startOrder.map((line) => line.split(' ')[0]), ['node-2', 'node-3', WORKER]);
    assert.match(plan.startOrder[2] ?? '', /\(worker\): last/);
  });

  it('refuses a cluster without an app node as Misconfigured, naming it, before starting anything', async () => {
    const mock = splitCluster(false, ['node-1', 'node-2', 'node-3']);
    const error = await run(mock, 'firstStart', {}, (handle) => handle.result()).catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, FailureType.Misconfigured);
    assert.match(error.cause.message, new RegExp(`cluster "${mock.plan.cluster}" has no app node`));
    assert.ok(!mock.calls.some((call) => call.startsWith('startNode')));
  });
});

import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WaitNodeReadyInput } from '../../src/activities/health/node-readiness';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import type { InAppMaintenanceInput, InAppMaintenanceResult } from '../../src/workflows/in-app-maintenance';
import { abandonUpdate, approveSignal, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import { failWith, servingMockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';
import { inAppMaintenance } from '../../src/workflows';

// `pm add` writes storage/.upgrading: the next start of any node runs NocoBase's upgrade, unlocked.
// The kept node (node-1) must run it alone, awaited, before node-2 or node-3 starts.

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

type Maintenance = WorkflowHandle<(input: InAppMaintenanceInput) => Promise<InAppMaintenanceResult>>;

const servingCluster = (overrides: Parameters<typeof servingMockCluster>[0] = {}) =>
  servingMockCluster({ checkDatabase: async () => ({ serverVersion: '15', version: '1.6.0', plugins: null }), ...overrides });

async function withMaintenance<T>(mock: ReturnType<typeof servingMockCluster>, operations: InAppMaintenanceInput['operations'], body: (handle: Maintenance) => Promise<T>): Promise<T> {
  return withMockedWorker(env, mock.activities, async (taskQueue) => {
    const handle = (await env.client.workflow.start(inAppMaintenance, {
      taskQueue,
      workflowId: procedureWorkflowId(mock.plan.cluster),
      args: [{ cluster: mock.plan.cluster, operations }],
    })) as Maintenance;
    return body(handle);
  });
}

async function untilStatus(handle: Maintenance, what: (status: ProcedureStatus) => boolean): Promise<ProcedureStatus> {
  for (let i = 0; i < 200; i++) {
    const status = await handle.query(statusQuery);
    if (what(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail('the procedure never got there');
}

const ADD_AND_ENABLE: InAppMaintenanceInput['operations'] = [{ type: 'pm', args: ['add', 'plugin-hello'] }, { type: 'pm', args: ['enable', 'plugin-hello'] }];
const othersStarted = (calls: string[]) => calls.filter((call) => /^startNode:node-[23]$/.test(call));

describe('inAppMaintenance after pm add', () => {
  it('restarts the kept node alone behind the maintenance page and awaits its upgrade before verifying and before any other node starts', async () => {
    const waits: WaitNodeReadyInput[] = [];
    const mock = servingCluster({ waitNodeReady: (input) => void waits.push(input) });
    const result = await withMaintenance(mock, ADD_AND_ENABLE, async (handle) => {
      await untilStatus(handle, (status) => status.approval?.state === 'awaiting');
      assert.deepEqual(othersStarted(mock.calls), [], 'no other node before the decision');
      await handle.signal(approveSignal, { by: 'alice' });
      return handle.result();
    });
    const calls = mock.calls.filter((call) => !call.endsWith(':done'));
    const at = (call: string) => {
      assert.ok(calls.includes(call), `${call} missing: ${calls.join(' ')}`);
      return calls.indexOf(call);
    };
    const lastOperation = calls.lastIndexOf('runNodeCommand:node-1');
    const restart = ['setMaintenanceMode:on', 'stopNode:node-1', 'startNode:node-1', 'waitNodeReady:node-1', 'setMaintenanceMode:off'].map(at);
    assert.ok(lastOperation < restart[0]!, 'the restart comes after every operation');
    assert.deepEqual([...restart].sort((a, b) => a - b), restart, `restart out of order: ${calls.join(' ')}`);
    assert.ok(restart.at(-1)! < at('sendNotification:approvers'), 'the approvers verify the node that ran the upgrade');
    assert.ok(restart.at(-1)! < at('startNode:node-2') && restart.at(-1)! < at('startNode:node-3'));
    assert.deepEqual(waits[0], { cluster: mock.plan.cluster, node: 'node-1', requirePlugins: true, expectVersion: '1.6.0' }, 'its upgrade is awaited, at the recorded version');
    assert.equal(calls.filter((call) => call === 'stopNode:node-1').length, 1, 'restarted once');
    assert.equal(result.outcome, 'completed');
  });

  it('restarts the kept node alone before the undo starts the others when an operation after the add fails', async () => {
    const mock = servingCluster({
      runNodeCommand: ({ command }) => (command.includes('enable') ? failWith(FailureType.OperationFailed, 'plugin-hello failed to enable') : undefined),
    });
    const error = await withMaintenance(mock, ADD_AND_ENABLE, (handle) => handle.result()).catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, FailureType.OperationFailed);
    const { calls } = mock;
    const ready = calls.indexOf('waitNodeReady:node-1:done');
    assert.ok(calls.indexOf('stopNode:node-1') > calls.lastIndexOf('runNodeCommand:node-1') && ready > calls.indexOf('stopNode:node-1'), calls.join(' '));
    assert.deepEqual(othersStarted(calls.slice(0, ready)), [], 'no other node starts before the kept node is upgraded');
    assert.deepEqual(othersStarted(calls.slice(ready)).sort(), ['startNode:node-2', 'startNode:node-3']);
  });

  it('starts no other node when the kept node\'s upgrade fails, and waits for a person', async () => {
    const mock = servingCluster({
      waitNodeReady: ({ node }) => (node === 'node-1' ? failWith(FailureType.NodeFailed, 'node-1 answers 503 APP_ERROR: migration failed') : undefined),
    });
    const error = await withMaintenance(mock, [{ type: 'pm', args: ['add', 'plugin-hello'] }], async (handle) => {
      const status = await untilStatus(handle, (current) => current.rollback?.state === 'blocked');
      assert.match(JSON.stringify(status.rollback?.unfinished), /start the other nodes again.*APP_ERROR/);
      await handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice', reason: 'fixing the plugin by hand' }] });
      return handle.result().catch((caught: unknown) => caught);
    });
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, FailureType.RollbackFailed);
    assert.deepEqual(othersStarted(mock.calls), [], 'two nodes must never run the failing upgrade');
    assert.equal(mock.calls.filter((call) => call === 'stopNode:node-1').length, 2, 'tried again by the undo, alone');
  });
});

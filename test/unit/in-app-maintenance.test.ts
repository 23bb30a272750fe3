import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import type { InAppMaintenanceInput, InAppMaintenanceResult } from '../../src/workflows/in-app-maintenance';
import { approveSignal, maintenanceDoneSignal, rejectSignal, retryRollbackUpdate, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import { failWith, servingMockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';
import { inAppMaintenance } from '../../src/workflows';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

type Maintenance = WorkflowHandle<(input: InAppMaintenanceInput) => Promise<InAppMaintenanceResult>>;

const servingCluster = servingMockCluster;

async function withMaintenance<T>(mock: ReturnType<typeof servingMockCluster>, input: Partial<InAppMaintenanceInput>, body: (handle: Maintenance) => Promise<T>): Promise<T> {
  return withMockedWorker(env, mock.activities, async (taskQueue) => {
    const handle = (await env.client.workflow.start(inAppMaintenance, {
      taskQueue,
      workflowId: procedureWorkflowId(mock.plan.cluster),
      args: [{ cluster: mock.plan.cluster, ...input }],
    })) as Maintenance;
    return body(handle);
  });
}

async function until(handle: Maintenance, what: (status: ProcedureStatus) => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (what(await handle.query(statusQuery))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail('the procedure never got there');
}
const awaitingDecision = (handle: Maintenance) => until(handle, (status) => status.approval?.state === 'awaiting');

const OPERATIONS: InAppMaintenanceInput['operations'] = [{ type: 'pm', args: ['enable', 'map'] }, { type: 'backup' }];

describe('inAppMaintenance workflow', () => {
  it('drains and stops the other nodes, runs the operations on node 1, asks, then restores every node', async () => {
    const mock = servingCluster();
    const result = await withMaintenance(mock, { operations: OPERATIONS }, async (handle) => {
      await awaitingDecision(handle);
      await handle.signal(approveSignal, { by: 'alice' });
      return handle.result();
    });
    const calls = mock.calls.filter((call) => !call.endsWith(':done'));
    const at = (call: string) => {
      assert.ok(calls.includes(call), `${call} missing: ${calls.join(' ')}`);
      return calls.indexOf(call);
    };
    assert.ok(at('setLoadBalancerServers:drain') < at('waitServersDrained'));
    assert.ok(at('waitServersDrained') < at('setLoadBalancerServers:maint'));
    assert.ok(at('setLoadBalancerServers:maint') < at('stopNode:node-2'));
    assert.ok(at('stopNode:node-3') < at('runNodeCommand:node-1'));
    assert.ok(at('runNodeCommand:node-1') < at('backupDatabase'));
    assert.ok(at('backupDatabase') < at('sendNotification:approvers'));
    assert.ok(at('sendNotification:approvers') < at('startNode:node-2'), 'the others come back only after the decision');
    assert.ok(at('startNode:node-3') < at('setLoadBalancerServers:ready'));
    assert.ok(!calls.includes('stopNode:node-1') && !calls.includes('restoreDatabase'));

    assert.equal(result.outcome, 'completed');
    assert.deepEqual(result.operations.map((operation) => [operation.operation, operation.ok]), [['pm enable map', true], ['backup', true]]);
    assert.match(result.operations[0]?.output ?? '', /ran yarn pm enable map/);
    assert.equal(result.backup?.method, 'pg_dump');
  });

  it('waits for maintenanceDone when there are no operations', async () => {
    const mock = servingCluster();
    const result = await withMaintenance(mock, {}, async (handle) => {
      await until(handle, (status) => /maintenanceDone/.test(status.waitingFor ?? ''));
      assert.ok(!mock.calls.includes('waitNodeReady:node-1'), 'no verification before the work is done');
      // Not an approver: ignored, the step keeps waiting (open mode checks the name too).
      await handle.signal(maintenanceDoneSignal, { by: 'bob' });
      await until(handle, (status) => (status.approval?.ignored ?? []).some((entry) => entry.by === 'bob' && /not an approver/.test(entry.why)));
      assert.match((await handle.query(statusQuery)).waitingFor ?? '', /maintenanceDone/);
      await handle.signal(maintenanceDoneSignal, { by: 'ops@example.test' });
      await awaitingDecision(handle);
      await handle.signal(approveSignal, { by: 'alice' });
      return handle.result();
    });
    assert.equal(result.maintenanceDoneBy, 'ops@example.test');
    assert.deepEqual(result.operations, []);
    assert.ok(!mock.calls.includes('runNodeCommand:node-1'));
  });

  it('restores every node and names the failed operation with its output', async () => {
    const mock = servingCluster({
      runNodeCommand: ({ command }) => {
        throw ApplicationFailure.nonRetryable(`\`${command.join(' ')}\` exited with 1`, FailureType.OperationFailed, { output: 'plugin nope not found' });
      },
    });
    const error = await withMaintenance(mock, { operations: [{ type: 'pm', args: ['enable', 'nope'] }] }, (handle) => handle.result()).catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, FailureType.OperationFailed);
    assert.match(error.cause.message, /operation "pm enable nope"/);
    const [details] = error.cause.details as [{ failedOperation: { output: string } }];
    assert.equal(details.failedOperation.output, 'plugin nope not found');
    const undo = mock.calls.slice(mock.calls.indexOf('runNodeCommand:node-1')).filter((call) => /^(startNode|setLoadBalancerServers):[^:]+$/.test(call));
    assert.deepEqual(undo.sort(), ['setLoadBalancerServers:ready', 'startNode:node-2', 'startNode:node-3']);
  });

  it('brings every node back when rejected, restoring the backup only when asked', async () => {
    for (const restoreBackupOnFailure of [false, true]) {
      const mock = servingCluster();
      const result: InAppMaintenanceResult = await withMaintenance(mock, { operations: OPERATIONS, restoreBackupOnFailure }, async (handle) => {
        await awaitingDecision(handle);
        await handle.signal(rejectSignal, { by: 'alice', reason: 'map plugin breaks the dashboard' });
        if (restoreBackupOnFailure) {
          // node-1 served users since the backup: the restore waits until someone accepts losing their writes.
          await until(handle, (status) => status.rollback?.dataLoss !== undefined);
          assert.ok(!mock.calls.includes('restoreDatabase'), 'nothing is restored before the loss is confirmed');
          await refusedWith(handle.executeUpdate(retryRollbackUpdate, { args: [{ by: 'alice' }] }), /confirmDataLoss/);
          await handle.executeUpdate(retryRollbackUpdate, { args: [{ by: 'alice', confirmDataLoss: true }] });
        }
        return handle.result();
      });
      assert.equal(result.outcome, 'rejected');
      assert.match(result.reason ?? '', /map plugin breaks the dashboard/);
      assert.ok(mock.calls.includes('startNode:node-2:done') && mock.calls.includes('startNode:node-3:done'));
      assert.equal(mock.calls.includes('restoreDatabase'), restoreBackupOnFailure);
      if (restoreBackupOnFailure) {
        const order = mock.calls.filter((call) => /^(stopNode:node-1|restoreDatabase|startNode:node-\d)$/.test(call));
        assert.deepEqual(order.slice(0, 3), ['stopNode:node-1', 'restoreDatabase', 'startNode:node-1'], 'node 1 is stopped while its data goes back');
      }
    }
  });

  it('holds the other nodes without a restart policy while they are stopped, and gives it back once they run again', async () => {
    const mock = servingCluster();
    await withMaintenance(mock, { operations: OPERATIONS }, async (handle) => {
      await awaitingDecision(handle);
      await handle.signal(approveSignal, { by: 'alice' });
      return handle.result();
    });
    const at = (call: string) => {
      assert.ok(mock.calls.includes(call), `${call} missing: ${mock.calls.join(' ')}`);
      return mock.calls.indexOf(call);
    };
    for (const node of ['node-2', 'node-3']) {
      // A dockerd restart while they are held must not start them next to a `pm add` on node 1.
      assert.ok(at(`suspendRestartPolicy:${node}:done`) < at(`stopNode:${node}`), `${node} loses its policy before it stops`);
      assert.ok(at(`startNode:${node}:done`) < at(`restoreRestartPolicy:${node}`), `${node} gets it back once it runs`);
      assert.ok(at(`restoreRestartPolicy:${node}:done`) < at('sendNotification'), 'before the outcome mail');
    }
    assert.ok(!mock.calls.some((call) => /RestartPolicy:node-1/.test(call)), 'node 1 keeps serving with its policy');
  });

  it('takes node 1\'s restart policy away while the backup is restored under it, and gives it back once it is ready', async () => {
    const mock = servingCluster();
    await withMaintenance(mock, { operations: OPERATIONS, restoreBackupOnFailure: true }, async (handle) => {
      await awaitingDecision(handle);
      await handle.signal(rejectSignal, { by: 'alice', reason: 'map plugin breaks the dashboard' });
      await until(handle, (status) => status.rollback?.dataLoss !== undefined);
      await handle.executeUpdate(retryRollbackUpdate, { args: [{ by: 'alice', confirmDataLoss: true }] });
      return handle.result();
    });
    const order = mock.calls.filter((call) => /^(suspendRestartPolicy:node-1|stopNode:node-1|restoreDatabase|startNode:node-1|waitNodeReady:node-1|restoreRestartPolicy:node-1)$/.test(call));
    const restored = order.indexOf('restoreDatabase');
    assert.deepEqual(order.slice(restored - 2, restored + 4), [
      'suspendRestartPolicy:node-1',
      'stopNode:node-1',
      'restoreDatabase',
      'startNode:node-1',
      'waitNodeReady:node-1',
      'restoreRestartPolicy:node-1',
    ]);
    for (const node of ['node-2', 'node-3']) assert.ok(mock.calls.includes(`restoreRestartPolicy:${node}:done`), `${node} gets its policy back`);
  });

  it('refuses malformed operations and an unhealthy cluster before touching anything', async () => {
    const mock = servingCluster();
    const bad = async (input: Partial<InAppMaintenanceInput>) => {
      const error = await withMaintenance(mock, input, (handle) => handle.result()).catch((caught: unknown) => caught);
      assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure);
      return error.cause;
    };
    assert.equal((await bad({ operations: [{ type: 'pm', args: ['install', 'x'] }] })).type, FailureType.InvalidInput);
    assert.equal((await bad({ operations: [{ type: 'pm', args: ['enable', '--force'] }] })).type, FailureType.InvalidInput);
    assert.equal((await bad({ operations: [{ type: 'pm', args: ['enable', 'x'] }], restoreBackupOnFailure: true })).type, FailureType.InvalidInput);
    assert.deepEqual(mock.calls, []);

    const sick = servingCluster({ probeNode: ({ node }) => (node === 'node-3' ? Promise.resolve({ node, healthy: false, code: 'ECONNREFUSED' }) : undefined) });
    const error = await withMaintenance(sick, { operations: OPERATIONS }, (handle) => handle.result()).catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure);
    assert.equal(error.cause.type, FailureType.ClusterNotHealthy);
    assert.match(error.cause.message, /node-3 \(ECONNREFUSED\)/);
    assert.ok(!sick.calls.some((call) => /^(setLoadBalancerServers|stopNode)/.test(call)));
  });

  it('checks at pre-flight that a backup operation can be taken and restored (room, pg_dump, owners), before any node is touched', async () => {
    const mock = servingCluster({ checkBackupRoom: () => failWith(FailureType.RestoreNotPossible, 'the login cannot act as the owner nocobase') });
    const outcome = await withMaintenance(mock, { operations: [{ type: 'backup' }], restoreBackupOnFailure: true }, async (handle) => {
      await until(handle, (status) => status.outcome === 'failed' || status.approval?.state === 'awaiting');
      return handle.query(statusQuery);
    });
    assert.equal(outcome.error?.type, FailureType.RestoreNotPossible, `ended at ${outcome.step} as ${outcome.outcome}`);
    assert.equal(outcome.step, 'preflight');
    assert.ok(!mock.calls.some((call) => /^(setLoadBalancerServers|stopNode|backupDatabase)/.test(call)), mock.calls.join(' '));
  });
});

/** An update the workflow's validator refused, with a reason that matches. */
async function refusedWith(update: Promise<unknown>, reason: RegExp): Promise<void> {
  const error = await update.then(() => assert.fail('the update was expected to be refused'), (caught: unknown) => caught);
  assert.ok(error instanceof WorkflowUpdateFailedError, `expected a refused update, got ${String(error)}`);
  assert.match(String(error.cause?.message), reason);
}

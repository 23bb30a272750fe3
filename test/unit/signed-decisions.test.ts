import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { inAppMaintenance, versionUpgrade } from '../../src/workflows';
import { abandonUpdate, decideUpdate, maintenanceDoneSignal, retryRollbackUpdate, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import type { InAppMaintenanceResult } from '../../src/workflows/in-app-maintenance';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { failWith, SIGNED_APPROVERS, signedMockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';

/**
 * Issue 23, items 1 and 2: the two-person rule holds against a starter who names someone else (or
 * nobody, as a maintenance window), and in signed mode every decision of a run (maintenanceDone,
 * retryRollback, abandon, confirmDataLoss) takes a token mailed for that kind of decision.
 */

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const TARGET = 'registry.test/nocobase:1.7.0';
const [ALICE, BOB, CAROL] = SIGNED_APPROVERS;
/** Only queried: either procedure's handle. */
type Handle = Pick<WorkflowHandle, 'query'>;

const signedCluster = signedMockCluster;

async function statusWhen(handle: Handle, what: (status: ProcedureStatus) => boolean): Promise<ProcedureStatus> {
  for (let i = 0; i < 300; i++) {
    const status = await handle.query(statusQuery);
    if (what(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail(`never got there: ${JSON.stringify(await handle.query(statusQuery))}`);
}

async function refused(update: Promise<unknown>): Promise<string> {
  const error = await update.then(() => assert.fail('expected a refusal'), (caught: unknown) => caught);
  assert.ok(error instanceof WorkflowUpdateFailedError, String(error));
  return error.cause?.message ?? '';
}

function upgrade<T>(mock: ReturnType<typeof signedCluster>, input: Partial<VersionUpgradeInput>, body: (handle: WorkflowHandle<typeof versionUpgrade>) => Promise<T>): Promise<T> {
  return withMockedWorker(env, mock.activities, async (taskQueue) => {
    const handle = await env.client.workflow.start(versionUpgrade, { taskQueue, workflowId: procedureWorkflowId(mock.plan.cluster), args: [{ cluster: mock.plan.cluster, image: TARGET, ...input }] });
    return body(handle);
  });
}

/** Waits until a decision request of these kinds went out, and hands back the tokens it mailed. */
async function mailedTokens(mock: ReturnType<typeof signedCluster>, handle: Handle, kinds: string, what: (status: ProcedureStatus) => boolean): Promise<Map<string, string>> {
  await statusWhen(handle, (status) => what(status) && mock.requests.some((request) => request === kinds));
  return new Map(mock.tokens);
}

describe('the two-person rule against a starter who lies', () => {
  it('needs two distinct signed approvals whatever "startedBy" says: the starter, named by a login that is not their address, cannot approve alone', async () => {
    const mock = signedCluster({ twoPersonRule: true });
    const result = await upgrade(mock, { startedBy: 'alice' }, async (handle) => {
      const tokens = await mailedTokens(mock, handle, 'approve,reject', (status) => status.approval?.state === 'awaiting');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', token: tokens.get(ALICE)! }] });
      const status = await handle.query(statusQuery);
      assert.equal(status.approval?.state, 'awaiting', 'one approval does not pass the two-person rule, whoever the input says started the run');
      assert.equal(status.approval?.needed, 2);
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', token: tokens.get(BOB)! }] });
      return handle.result();
    });
    assert.equal((result as VersionUpgradeResult).outcome, 'upgraded');
    assert.deepEqual((result as VersionUpgradeResult).audit?.map((entry) => entry.by), [ALICE, BOB]);
  });

  it('lets a maintenance window (no "startedBy") start a two-person cluster\'s run, which still needs two approvers', async () => {
    const mock = signedCluster({ twoPersonRule: true });
    const result = await upgrade(mock, {}, async (handle) => {
      const tokens = await mailedTokens(mock, handle, 'approve,reject', (status) => status.approval?.state === 'awaiting');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', token: tokens.get(CAROL)! }] });
      assert.equal((await handle.query(statusQuery)).approval?.state, 'awaiting');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', token: tokens.get(BOB)! }] });
      return handle.result();
    });
    assert.equal((result as VersionUpgradeResult).outcome, 'upgraded');
  });

  it('compares names in one canonical form: an alias mapped to an approver\'s address is that approver (open mode)', async () => {
    const mock = signedCluster({ mode: 'open', links: false, minApprovals: 2, aliases: { alice: ALICE, 'a.smith@example.test': ALICE } });
    const result = await upgrade(mock, {}, async (handle) => {
      await statusWhen(handle, (status) => status.approval?.state === 'awaiting');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'Alice' }] });
      assert.match(await refused(handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'a.smith@example.test' }] })), /has already approved/);
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: BOB }] });
      return handle.result();
    });
    assert.deepEqual((result as VersionUpgradeResult).audit?.map((entry) => entry.by), [ALICE, BOB], 'recorded under the canonical name');
  });
});

describe('signed mode covers every decision of a run', () => {
  it('takes retryRollback with confirmDataLoss only with a token mailed for confirming the loss, not by name nor with an approval token', async () => {
    const mock = signedCluster();
    await withMockedWorker(env, mock.activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(inAppMaintenance, {
        taskQueue,
        workflowId: procedureWorkflowId(mock.plan.cluster),
        args: [{ cluster: mock.plan.cluster, operations: [{ type: 'backup' }], restoreBackupOnFailure: true }],
      });
      const asked = await mailedTokens(mock, handle, 'approve,reject', (status) => status.approval?.state === 'awaiting');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'reject', token: asked.get(BOB)!, reason: 'broken' }] });
      const rollback = await mailedTokens(mock, handle, 'confirmDataLoss,abandon', (status) => status.rollback?.dataLoss !== undefined);
      assert.match(await refused(handle.executeUpdate(retryRollbackUpdate, { args: [{ by: ALICE, confirmDataLoss: true }] })), /takes only signed decisions/);
      assert.match(await refused(handle.executeUpdate(retryRollbackUpdate, { args: [{ by: ALICE, token: asked.get(ALICE)!, confirmDataLoss: true }] })), /may only approve or reject, not confirmDataLoss/);
      assert.ok(!mock.calls.includes('restoreDatabase'), 'nothing restored on a refused decision');
      const taken = await handle.executeUpdate(retryRollbackUpdate, { args: [{ by: 'mallory', token: rollback.get(CAROL)!, confirmDataLoss: true }] });
      assert.equal(taken.decisions.at(-1)?.by, CAROL, 'the token decides as the person it was mailed to, whatever "by" says');
      const result = (await handle.result()) as InAppMaintenanceResult;
      assert.equal(result.outcome, 'rejected');
      assert.ok(mock.calls.includes('restoreDatabase:done'));
    });
  });

  it('takes abandon only with a token mailed for the blocked rollback', async () => {
    const mock = signedCluster({}, { restoreDatabase: () => failWith('RestoreFailed', 'dump checksum mismatch') });
    const failure = await upgrade(mock, {}, async (handle) => {
      const asked = await mailedTokens(mock, handle, 'approve,reject', (status) => status.approval?.state === 'awaiting');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'reject', token: asked.get(BOB)!, reason: 'no' }] });
      const rollback = await mailedTokens(mock, handle, 'retryRollback,abandon', (status) => status.rollback?.state === 'blocked');
      assert.match(await refused(handle.executeUpdate(abandonUpdate, { args: [{ by: ALICE, reason: 'by hand' }] })), /takes only signed decisions/);
      await handle.executeUpdate(abandonUpdate, { args: [{ by: ALICE, token: rollback.get(ALICE)!, reason: 'restoring by hand' }] });
      return handle.result().then(() => assert.fail('expected RollbackFailed'), (caught: unknown) => caught);
    });
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure, String(failure));
    assert.equal(failure.cause.type, FailureType.RollbackFailed);
    assert.match(failure.cause.message, /abandoned by alice@example\.test: restoring by hand/);
  });

  it('mails new rollback tokens before the mailed ones expire, so a long block never waits for a decision nobody can take', async () => {
    const mock = signedCluster({ linkTtlMs: 12_000 }, { restoreDatabase: () => failWith('RestoreFailed', 'dump checksum mismatch') });
    const failure = await upgrade(mock, {}, async (handle) => {
      const asked = await mailedTokens(mock, handle, 'approve,reject', (status) => status.approval?.state === 'awaiting');
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'reject', token: asked.get(BOB)!, reason: 'no' }] });
      const first = await mailedTokens(mock, handle, 'retryRollback,abandon', (status) => status.rollback?.state === 'blocked');
      for (let i = 0; mock.requests.filter((kinds) => kinds === 'retryRollback,abandon').length < 2; i++) {
        if (i > 600) assert.fail(`no new tokens: ${mock.requests.join(' ')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const renewed = new Map(mock.tokens);
      assert.notEqual(renewed.get(CAROL), first.get(CAROL), 'a new token, not the same one again');
      await handle.executeUpdate(abandonUpdate, { args: [{ token: renewed.get(CAROL)!, reason: 'restoring by hand' }] });
      return handle.result().then(() => assert.fail('expected RollbackFailed'), (caught: unknown) => caught);
    });
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure, String(failure));
    assert.match(failure.cause.message, /abandoned by carol@example\.test: restoring by hand/);
  });

  it('takes maintenanceDone only with a token mailed for it', async () => {
    const mock = signedCluster();
    await withMockedWorker(env, mock.activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(inAppMaintenance, { taskQueue, workflowId: procedureWorkflowId(mock.plan.cluster), args: [{ cluster: mock.plan.cluster }] });
      const done = await mailedTokens(mock, handle, 'maintenanceDone', (status) => /maintenanceDone/.test(status.waitingFor ?? ''));
      await handle.signal(maintenanceDoneSignal, { by: BOB });
      let status = await statusWhen(handle, (seen) => seen.approval?.ignored.some((entry) => entry.decision === 'maintenanceDone') === true);
      assert.match(status.approval?.ignored.at(-1)?.why ?? '', /takes only signed decisions/);
      assert.equal(status.step, 'maintenance');
      await handle.signal(maintenanceDoneSignal, { by: 'mallory', token: done.get(CAROL)! });
      status = await statusWhen(handle, (seen) => seen.maintenanceDoneBy !== undefined);
      assert.equal(status.maintenanceDoneBy, CAROL);
      await handle.terminate('the test ends here');
    });
  });
});

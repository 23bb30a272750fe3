import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import type { PrunedBackups, RetentionOutcome } from '../../src/common/retention';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { abandonUpdate, rejectSignal, retryRollbackUpdate, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import { failWith, mockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';

// Clone backups and set-aside databases follow `backup.keep` once a run has finished: after a
// success or a rollback that finished on its own, never while or after a person is needed, and a
// prune that fails is reported, never the procedure's failure.

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const PRUNED: PrunedBackups = { kept: ['nocobase_bk_new'], dropped: ['nocobase_bk_old'], spared: [], unsettled: [] };
const UPGRADE = { image: 'registry.test/nocobase:1.7.0' };
// Decided by the approval's timeout, so the tests need no signal: proceed, or roll back.
const APPROVED_BY_TIMEOUT = { approval: { timeout: '1s', onTimeout: 'proceed' } };
const REJECTED_BY_TIMEOUT = { approval: { timeout: '1s', onTimeout: 'rollback' } };

type Result = Record<string, unknown> & { outcome?: string; retention?: RetentionOutcome };

/** A mocked cluster recording the labels pruneBackups and backupDatabase were given, and every mail. */
function cluster(running: boolean, overrides: Parameters<typeof mockCluster>[1] = {}) {
  const seen = { pruneLabels: [] as (string | undefined)[], backupLabels: [] as string[], mails: [] as string[] };
  const mock = mockCluster(`unit-${randomUUID().slice(0, 8)}`, {
    pruneBackups: async (input) => {
      seen.pruneLabels.push(input.label);
      return PRUNED;
    },
    backupDatabase: ({ label }) => {
      seen.backupLabels.push(label);
    },
    sendNotification: ({ text }) => {
      seen.mails.push(text);
    },
    ...overrides,
  });
  for (const node of mock.plan.nodes) Object.assign(node, { running, state: running ? 'running' : 'created' });
  return { ...mock, seen };
}

type Mock = ReturnType<typeof cluster>;

function start<T>(mock: Mock, workflow: string, input: Record<string, unknown>, body: (handle: WorkflowHandle) => Promise<T>): Promise<T> {
  return withMockedWorker(env, mock.activities, async (taskQueue) =>
    body(await env.client.workflow.start(workflow, { taskQueue, workflowId: procedureWorkflowId(mock.plan.cluster), args: [{ cluster: mock.plan.cluster, ...input }] })),
  );
}

const run = (mock: Mock, workflow: string, input: Record<string, unknown>) => start(mock, workflow, input, (handle) => handle.result() as Promise<Result>);

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(() => assert.fail('expected the workflow to fail'), (caught: unknown) => caught);
  assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error.cause;
}

async function untilStatus(handle: WorkflowHandle, what: (status: ProcedureStatus) => boolean): Promise<ProcedureStatus> {
  for (let i = 0; i < 200; i++) {
    const status = await handle.query(statusQuery);
    if (what(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail('the procedure never got there');
}

const index = (calls: string[], call: string) => {
  const at = calls.indexOf(call);
  assert.ok(at >= 0, `${call} missing: ${calls.join(' ')}`);
  return at;
};

describe('the retention of clone backups and set-aside databases', () => {
  it('is applied after a successful upgrade, with the run\'s own label, before the outcome mail that reports it', async () => {
    const mock = cluster(true);
    const result = await run(mock, 'versionUpgrade', { ...UPGRADE, ...APPROVED_BY_TIMEOUT });

    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual(result.retention, { outcome: 'pruned', ...PRUNED });
    assert.deepEqual(mock.seen.pruneLabels, mock.seen.backupLabels, 'the run\'s own backup is the one kept and never dropped');
    const calls = mock.calls;
    assert.ok(index(calls, 'pruneBackups') > index(calls, 'setMaintenanceMode:off:done'), 'only once the procedure has finished its work');
    assert.ok(index(calls, 'pruneBackups:done') < calls.lastIndexOf('sendNotification'), 'before the outcome mail');
    assert.match(mock.seen.mails.at(-1) ?? '', /dropped nocobase_bk_old/);
  });

  it('is applied after every procedure that finished: a first start and an in-app maintenance too', async () => {
    const first = cluster(false);
    assert.equal((await run(first, 'firstStart', {})).retention?.outcome, 'pruned');
    assert.equal(first.calls.filter((call) => call === 'pruneBackups').length, 1);

    const maintenance = cluster(true);
    const result = await run(maintenance, 'inAppMaintenance', { operations: [{ type: 'backup' }], ...APPROVED_BY_TIMEOUT });
    assert.equal(result.outcome, 'completed');
    assert.equal(result.retention?.outcome, 'pruned');
    assert.ok(index(maintenance.calls, 'pruneBackups') > index(maintenance.calls, 'startNode:node-3:done'), 'once every node is back');
  });

  it('is applied after a rollback that finished on its own, once the undo is done', async () => {
    const mock = cluster(true);
    const result = await run(mock, 'versionUpgrade', { ...UPGRADE, ...REJECTED_BY_TIMEOUT });

    assert.equal(result.outcome, 'rolled-back');
    assert.equal(result.retention?.outcome, 'pruned');
    assert.ok(index(mock.calls, 'pruneBackups') > index(mock.calls, 'restoreDatabase:done'));
    assert.ok(index(mock.calls, 'pruneBackups') > index(mock.calls, 'setMaintenanceMode:off:done'));
  });

  it('does not fail the procedure when the prune fails: the result, the status and the mail say so', async () => {
    const mock = cluster(false, { pruneBackups: () => failWith(FailureType.BackupFailed, 'permission denied to drop database "nocobase_bk_old"') });
    const { result, status } = await start(mock, 'firstStart', {}, async (handle) => ({ result: (await handle.result()) as Result, status: await handle.query(statusQuery) }));

    assert.deepEqual(result.retention, { outcome: 'failed', error: 'permission denied to drop database "nocobase_bk_old"' });
    assert.deepEqual(status.retention, result.retention);
    assert.equal(status.outcome, 'succeeded');
    assert.match(mock.seen.mails.at(-1) ?? '', /pruning \(backup\.keep\) FAILED: permission denied/);
  });

  it('is not applied after a pre-flight refusal, which touched nothing', async () => {
    const mock = cluster(true);
    await failureOf(run(mock, 'versionUpgrade', { image: 'registry.test/nocobase:1.6.0' }));
    assert.ok(!mock.calls.includes('pruneBackups'), mock.calls.join(' '));
  });

  it('is not applied while a rollback is blocked, nor after it was abandoned: a person may need every copy', async () => {
    const mock = cluster(true, { restoreDatabase: () => failWith(FailureType.RestoreFailed, 'dump checksum mismatch') });
    const failure = await failureOf(
      start(mock, 'versionUpgrade', UPGRADE, async (handle) => {
        await untilStatus(handle, (status) => status.approval?.state === 'awaiting');
        await handle.signal(rejectSignal, { by: 'alice', reason: 'no' });
        await untilStatus(handle, (status) => status.rollback?.state === 'blocked');
        assert.ok(!mock.calls.includes('pruneBackups'), 'nothing is pruned while a person is asked');
        await handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice', reason: 'restoring by hand' }] });
        return handle.result();
      }),
    );

    assert.equal(failure.type, FailureType.RollbackFailed);
    assert.ok(!mock.calls.includes('pruneBackups'), mock.calls.join(' '));
    const [details] = failure.details as [{ retention: RetentionOutcome }];
    assert.equal(details.retention.outcome, 'skipped');
    assert.match(details.retention.outcome === 'skipped' ? details.retention.reason : '', /abandoned by alice/);
  });

  it('is not applied after a rollback a person had to help finish', async () => {
    let broken = true;
    const mock = cluster(true, { restoreDatabase: () => (broken ? failWith(FailureType.RestoreFailed, 'dump missing') : undefined) });
    const result = await start(mock, 'versionUpgrade', { ...UPGRADE, ...REJECTED_BY_TIMEOUT }, async (handle) => {
      await untilStatus(handle, (status) => status.rollback?.state === 'blocked');
      broken = false;
      await handle.executeUpdate(retryRollbackUpdate, { args: [{ by: 'alice', reason: 'dump copied back' }] });
      return (await handle.result()) as Result;
    });

    assert.equal(result.outcome, 'rolled-back');
    assert.ok(mock.calls.includes('restoreDatabase:done'));
    assert.ok(!mock.calls.includes('pruneBackups'), mock.calls.join(' '));
    assert.equal(result.retention?.outcome, 'skipped');
  });

  it('is not applied when an undo failed, even where that failure is not fatal (a first start)', async () => {
    const mock = cluster(false, {
      waitNodeReady: ({ node }) => (node === 'node-3' ? failWith(FailureType.NodeExited) : undefined),
      stopNode: ({ node }) => (node === 'node-2' ? failWith('DockerDown') : undefined),
    });
    const failure = await failureOf(run(mock, 'firstStart', {}));

    assert.equal(failure.type, FailureType.NodeExited);
    assert.ok(!mock.calls.includes('pruneBackups'), mock.calls.join(' '));
    const [details] = failure.details as [{ retention: RetentionOutcome }];
    assert.equal(details.retention.outcome, 'skipped');
  });
});

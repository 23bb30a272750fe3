import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { abandonUpdate, approveSignal, decideUpdate, rejectSignal, retryRollbackUpdate, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { failWith, mockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';
import { versionUpgrade } from '../../src/workflows';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const TARGET = 'registry.test/nocobase:1.7.0';

/** A mocked three-node cluster serving v1, as an upgrade finds it. */
function runningCluster(overrides: Parameters<typeof mockCluster>[1] = {}) {
  const mock = mockCluster(`unit-${randomUUID().slice(0, 8)}`, overrides);
  for (const node of mock.plan.nodes) Object.assign(node, { running: true, state: 'running' });
  return mock;
}

type Mock = ReturnType<typeof mockCluster>;
type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;

/** Starts an upgrade on a mocked cluster and hands the test its handle while the worker runs. */
async function withUpgrade<T>(mock: Mock, input: Partial<VersionUpgradeInput>, body: (handle: Upgrade) => Promise<T>): Promise<T> {
  const cluster = mock.plan.cluster;
  return withMockedWorker(env, mock.activities, async (taskQueue) => {
    const handle = (await env.client.workflow.start(versionUpgrade, {
      taskQueue,
      workflowId: procedureWorkflowId(cluster),
      args: [{ cluster, image: TARGET, ...input }],
    })) as Upgrade;
    return body(handle);
  });
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(condition(), 'never happened');
}

/** Resolves with the status once it satisfies `what`. */
async function untilStatus(handle: Upgrade, what: (status: ProcedureStatus) => boolean): Promise<ProcedureStatus> {
  for (let i = 0; i < 200; i++) {
    const status = await handle.query(statusQuery);
    if (what(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail('the procedure never got there');
}

/** Resolves once the workflow waits for a decision. */
async function awaitingDecision(handle: Upgrade): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await handle.query(statusQuery)).approval?.state === 'awaiting') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail('the upgrade never asked for a decision');
}

/** Resolves once the upgrade waits for a decision and its load-balancer watch runs. */
async function watchedWhileAwaiting(mock: Mock, handle: Upgrade): Promise<void> {
  await awaitingDecision(handle);
  await until(() => mock.calls.includes('holdLoadBalancer'));
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(() => assert.fail('expected the workflow to fail'), (caught: unknown) => caught);
  assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error.cause;
}

/** Asserts that call `a` happened, and before call `b` (first occurrences). */
const ordered = (calls: string[]) => (a: string, b: string) =>
  assert.ok(calls.indexOf(a) >= 0 && calls.indexOf(a) < calls.indexOf(b), `${a} before ${b}: ${calls.join(' ')}`);

const starts = (calls: string[]) => calls.filter((call) => /^(startNode|replaceNodeImage):node-\d$/.test(call));
const ROLLBACK = /^(stopNode|restoreNodeImage|restoreDatabase|startNode|setLoadBalancerServers|setMaintenanceMode):?(node-\d|ready|off)?$/;

describe('versionUpgrade workflow', () => {
  it('upgrades one node, waits for approval, then the others, then gives traffic back', async () => {
    const mock = runningCluster();
    const result = await withUpgrade(mock, {}, async (handle) => {
      await awaitingDecision(handle);
      assert.deepEqual(starts(mock.calls), ['replaceNodeImage:node-1', 'startNode:node-1'], 'only node-1 before the decision');
      await handle.signal(approveSignal, { by: 'alice', comment: 'looks good' });
      return handle.result();
    });
    const calls = mock.calls.filter((call) => !call.endsWith(':done'));
    // The pre-flight's reads at once (in any order), then the image, then the first change.
    assert.deepEqual([...calls.slice(0, 6)].sort(), ['checkBackupRoom', 'checkBlackout', 'checkClusterInvariants', 'checkDatabase', 'describeCluster', 'findLeftovers']);
    assert.deepEqual(calls.slice(6, 9), ['ensureImages', 'imageVersion', 'setMaintenanceMode:on']);
    const before = (a: string, b: string) => assert.ok(calls.indexOf(a) < calls.indexOf(b), `${a} before ${b}: ${calls.join(' ')}`);
    for (const node of ['node-1', 'node-2', 'node-3']) before(`stopNode:${node}`, 'backupDatabase');
    before('backupDatabase', 'replaceNodeImage:node-1');
    before('waitNodeReady:node-1', 'sendNotification:approvers');
    before('replaceNodeImage:node-2', 'startNode:node-2');
    before('waitNodeReady:node-3', 'setLoadBalancerServers:ready');
    before('setLoadBalancerServers:ready', 'setMaintenanceMode:off');
    assert.ok(!calls.includes('restoreDatabase') && !calls.includes('restoreNodeImage:node-1'), 'nothing rolled back');
    assert.equal(calls.filter((call) => call.startsWith('discardSavedNode')).length, 3);

    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual(result.to, { image: TARGET, version: '1.7.0' });
    assert.equal(result.decision?.by, 'alice');
    assert.equal(result.decision?.via, 'signal');
    assert.equal(result.backup?.method, 'pg_dump');
    const steps = Object.fromEntries(result.steps.map((step) => [step.step, step]));
    assert.equal(result.maintenanceWindowMs, Date.parse(steps['restore-traffic']!.endedAt!) - Date.parse(steps['maintenance-page']!.startedAt));
  });

  it('holds the nodes without a restart policy while stopped and watches the load balancer while it waits, giving both back once the new version serves', async () => {
    const mock = runningCluster();
    await withUpgrade(mock, {}, async (handle) => {
      await watchedWhileAwaiting(mock, handle);
      await handle.signal(approveSignal, { by: 'alice' });
      return handle.result();
    });
    const before = ordered(mock.calls);
    for (const node of ['node-1', 'node-2', 'node-3']) {
      before(`suspendRestartPolicy:${node}:done`, `stopNode:${node}`);
      before('setMaintenanceMode:off:done', `restoreRestartPolicy:${node}`);
    }
    before('holdLoadBalancer', 'startNode:node-2');
    assert.ok(mock.calls.includes('holdLoadBalancer:done'), 'the watch ends when the decision is taken');
    before('holdLoadBalancer:done', 'setLoadBalancerServers:ready');
  });

  // The watch learns of its cancellation from a heartbeat's answer, seconds later on a real
  // worker: that wait must overlap the next nodes' start, not add to the 503 window.
  const slowToLetGo = () =>
    runningCluster({
      holdLoadBalancer: async () => {
        const context = Context.current();
        try {
          for (;;) {
            context.heartbeat({ checks: 1, drifts: [] });
            await context.sleep(100);
          }
        } catch (error) {
          if (!context.cancellationSignal.aborted) throw error;
          // Still heartbeating, as the real watch's ticker does until it returns.
          for (let i = 0; i < 15; i++) {
            context.heartbeat({ checks: 1, drifts: [] });
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          return { checks: 1, drifts: [{ at: new Date().toISOString(), what: 'maintenance switch was off, set on' }] };
        }
      },
    });

  it('goes on with the other nodes the moment it is approved, and waits for the watch only before it touches the load balancer', async () => {
    const mock = slowToLetGo();
    await withUpgrade(mock, {}, async (handle) => {
      await watchedWhileAwaiting(mock, handle);
      await handle.signal(approveSignal, { by: 'alice' });
      const result = await handle.result();
      assert.equal(result.outcome, 'upgraded');
      assert.equal((await handle.query(statusQuery)).loadBalancerDrifts?.length, 1, 'the watch report still reaches the status');
    });
    const before = ordered(mock.calls);
    before('replaceNodeImage:node-2', 'holdLoadBalancer:done');
    before('holdLoadBalancer:done', 'setLoadBalancerServers:ready');
    before('holdLoadBalancer:done', 'setMaintenanceMode:off');
  });

  it('starts the rollback the moment it is rejected, and waits for the watch only before it touches the load balancer', async () => {
    const mock = slowToLetGo();
    const result = await withUpgrade(mock, {}, async (handle) => {
      await watchedWhileAwaiting(mock, handle);
      await handle.signal(rejectSignal, { by: 'alice', reason: 'broken' });
      return handle.result();
    });
    assert.equal(result.outcome, 'rolled-back');
    const before = ordered(mock.calls);
    before('restoreNodeImage:node-1', 'holdLoadBalancer:done');
    before('holdLoadBalancer:done', 'setLoadBalancerServers:ready');
    before('holdLoadBalancer:done', 'setMaintenanceMode:off');
  });

  it('restarts the configured middleware while every node is down, and only when configured', async () => {
    const withRedis = runningCluster();
    withRedis.plan.restartMiddleware = ['redis'];
    await withUpgrade(withRedis, { approval: { timeout: '1s', onTimeout: 'proceed' } }, (handle) => handle.result());
    const calls = withRedis.calls.filter((call) => !call.endsWith(':done'));
    for (const node of ['node-1', 'node-2', 'node-3']) assert.ok(calls.indexOf(`stopNode:${node}`) < calls.indexOf('restartMiddleware'));
    assert.ok(calls.indexOf('restartMiddleware') < calls.indexOf('startNode:node-1'));

    const without = runningCluster();
    await withUpgrade(without, { approval: { timeout: '1s', onTimeout: 'proceed' } }, (handle) => handle.result());
    assert.ok(!without.calls.includes('restartMiddleware'));
  });

  it('rolls back image and data in reverse order when rejected, and says why in the result', async () => {
    const mock = runningCluster();
    let status: ProcedureStatus | undefined;
    const result = await withUpgrade(mock, {}, async (handle) => {
      await awaitingDecision(handle);
      assert.equal((await handle.query(statusQuery)).nodes['node-1']?.image, TARGET);
      await handle.signal(rejectSignal, { by: 'ops@example.test', reason: 'login page broken' });
      const outcome = await handle.result();
      status = await handle.query(statusQuery);
      return outcome;
    });
    assert.equal(result.outcome, 'rolled-back');
    assert.equal(status?.outcome, 'rolled-back');
    assert.deepEqual(status?.nodes['node-1'], { container: `${mock.plan.cluster}-node-1`, image: 'registry.test/nocobase:1.6.0', state: 'ready' });
    assert.match(result.reason ?? '', /rejected by ops@example\.test: login page broken/);
    const undo = mock.calls.slice(mock.calls.indexOf('sendNotification:approvers:done')).filter((call) => ROLLBACK.test(call));
    assert.deepEqual(undo.slice(0, 4), ['stopNode:node-1', 'restoreNodeImage:node-1', 'restoreDatabase', 'startNode:node-1']);
    assert.deepEqual(undo.slice(4, 6).sort(), ['startNode:node-2', 'startNode:node-3']);
    assert.deepEqual(undo.slice(6), ['setLoadBalancerServers:ready', 'setMaintenanceMode:off']);
    assert.ok(undo.indexOf('startNode:node-1') < undo.indexOf('startNode:node-2'), 'the first node starts first after a rollback');
    assert.ok(!mock.calls.includes('replaceNodeImage:node-2'), 'no other node was touched');
    const restores = mock.calls.filter((call) => /^(restoreStorage|restoreDatabase|stopNode:node-1|startNode:node-1)$/.test(call));
    assert.deepEqual(restores.slice(-4), ['stopNode:node-1', 'restoreStorage', 'restoreDatabase', 'startNode:node-1'], 'storage and data go back while node-1 is stopped');
    assert.equal(result.storageBackup?.files, 2);
    assert.deepEqual(result.compensations?.every((outcome) => outcome.ok), true);
  });

  it('ignores a decision from someone not on the allowlist, and one sent before it is wanted', async () => {
    const mock = runningCluster();
    const result = await withUpgrade(mock, {}, async (handle) => {
      await handle.signal(approveSignal, { by: 'alice' }); // too early: nothing awaits yet
      await awaitingDecision(handle);
      await handle.signal(approveSignal, { by: 'mallory' });
      const status = await handle.query(statusQuery);
      assert.equal(status.approval?.state, 'awaiting', 'an unauthorized approval changes nothing');
      await handle.signal(approveSignal, { by: 'alice' });
      return handle.result();
    });
    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual(result.ignoredDecisions.map((ignored) => [ignored.by, /not-requested|not an approver/.exec(ignored.why)?.[0]]), [
      ['alice', 'not-requested'],
      ['mallory', 'not an approver'],
    ]);
  });

  it('takes a decision as soon as the status says one is awaited, even while the request mail is still going out', async () => {
    let releaseMail: () => void = () => undefined;
    const mailHeld = new Promise<void>((resolve) => (releaseMail = resolve));
    const mock = runningCluster({
      sendNotification: async ({ subject }) => {
        if (/awaits your decision/.test(subject)) await mailHeld;
        return { sent: true, recipients: ['ops@example.test'], messageId: subject };
      },
    });
    const result = await withUpgrade(mock, {}, async (handle) => {
      for (let i = 0; !(await handle.query(statusQuery)).waitingFor?.startsWith('a decision'); i++) {
        if (i > 200) assert.fail('the status never said a decision is awaited');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      try {
        await handle.signal(approveSignal, { by: 'alice' });
        let approval = (await handle.query(statusQuery)).approval;
        for (let i = 0; approval?.state === 'awaiting' && approval.ignored.length === 0 && i < 200; i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          approval = (await handle.query(statusQuery)).approval;
        }
        assert.deepEqual(approval?.ignored, [], 'the decision was taken, not ignored');
        assert.equal(approval?.state, 'approved');
      } catch (error) {
        await handle.terminate('assertion failed');
        throw error;
      } finally {
        releaseMail(); // the worker shuts down only once the held activity ends
      }
      return handle.result();
    });
    assert.equal(result.outcome, 'upgraded');
    assert.equal(result.decision?.by, 'alice');
  });

  it('refuses an update from a stranger or when nothing awaits, and accepts one from an approver', async () => {
    const mock = runningCluster();
    await withUpgrade(mock, {}, async (handle) => {
      await assert.rejects(handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'alice' }] }), (error: unknown) => {
        assert.ok(error instanceof WorkflowUpdateFailedError);
        assert.match(String(error.cause?.message), /nothing awaits a decision/);
        return true;
      });
      await awaitingDecision(handle);
      await assert.rejects(handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'mallory' }] }), (error: unknown) => {
        assert.ok(error instanceof WorkflowUpdateFailedError);
        assert.match(String(error.cause?.message), /mallory is not an approver of this cluster/);
        return true;
      });
      const decision = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'alice', comment: 'ok' }] });
      assert.equal(decision.via, 'update');
      assert.equal((await handle.result()).outcome, 'upgraded');
    });
  });

  it('rolls back on approval timeout by default, and proceeds when the policy says so', async () => {
    const rolledBack = runningCluster();
    const timedOut = await withUpgrade(rolledBack, { approval: { timeout: '1s' } }, (handle) => handle.result());
    assert.equal(timedOut.outcome, 'rolled-back');
    assert.match(timedOut.reason ?? '', /nobody decided/);
    assert.ok(rolledBack.calls.includes('restoreDatabase'));

    const proceeding = runningCluster();
    const proceeded = await withUpgrade(proceeding, { approval: { timeout: '1s', onTimeout: 'proceed' } }, (handle) => handle.result());
    assert.equal(proceeded.outcome, 'upgraded');
    assert.equal(proceeded.decision?.by, 'timeout');
    assert.ok(!proceeding.calls.includes('restoreDatabase'));
  });

  it('rolls back automatically and fails with the step type when the new version never becomes ready', async () => {
    const mock = runningCluster({
      waitNodeReady: ({ node, expectVersion }) => (node === 'node-1' && expectVersion === '1.7.0' ? failWith(FailureType.NodeExited) : undefined),
    });
    const failure = await failureOf(withUpgrade(mock, {}, (handle) => handle.result()));
    assert.equal(failure.type, FailureType.NodeExited);
    assert.match(failure.message, /failed at step start-first-node and was rolled back/);
    assert.ok(mock.calls.includes('restoreDatabase:done') && mock.calls.includes('restoreNodeImage:node-1:done'));
    assert.ok(!mock.calls.includes('sendNotification:approvers'), 'no decision is asked for a broken node');
  });

  it('stops the rollback where the data could not be restored: no old node starts, the page stays, a person is asked; abandoned, it fails as RollbackFailed with both errors', async () => {
    const mock = runningCluster({ restoreDatabase: () => failWith('RestoreFailed', 'dump checksum mismatch') });
    const failure = await failureOf(
      withUpgrade(mock, {}, async (handle) => {
        await awaitingDecision(handle);
        await handle.signal(rejectSignal, { by: 'alice', reason: 'no' });
        const blocked = await untilStatus(handle, (status) => status.rollback?.state === 'blocked');
        assert.equal(blocked.outcome, 'rollback-blocked');
        assert.deepEqual(blocked.rollback?.unfinished.map((outcome) => outcome.step), [
          'restore the database from the backup',
          'start the previous version, first node first',
          'give the nodes their restart policies back',
          'give traffic back to the nodes',
        ]);
        assert.match(blocked.rollback?.unfinished[1]?.error ?? '', /needs "restore the database from the backup"/);
        const afterReject = mock.calls.slice(mock.calls.lastIndexOf('sendNotification:approvers'));
        assert.ok(!afterReject.some((call) => /^startNode:/.test(call)), `no node may start on data that was not restored: ${afterReject.join(' ')}`);
        assert.ok(!mock.calls.includes('setMaintenanceMode:off'), 'the maintenance page stays up');
        assert.ok(mock.calls.includes('restoreNodeImage:node-1:done'), 'undos that do not need the data still ran');
        await refusedWith(handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice' }] }), /must say why/);
        await handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice', reason: 'restoring by hand' }] });
        return handle.result();
      }),
    );
    assert.equal(failure.type, FailureType.RollbackFailed);
    assert.match(failure.message, /UpgradeRejected/);
    assert.match(failure.message, /dump checksum mismatch/);
    assert.match(failure.message, /abandoned by alice: restoring by hand/);
  });

  it('after an abandoned rollback, offers every held node its restart policy back, given only to those that run', async () => {
    const given: { node: string; ifRunning?: boolean }[] = [];
    const mock = runningCluster({
      restoreDatabase: () => failWith('RestoreFailed', 'dump checksum mismatch'),
      restoreRestartPolicy: (input) => void given.push({ node: input.node, ...(input.ifRunning === undefined ? {} : { ifRunning: input.ifRunning }) }),
    });
    await failureOf(
      withUpgrade(mock, {}, async (handle) => {
        await awaitingDecision(handle);
        await handle.signal(rejectSignal, { by: 'alice', reason: 'no' });
        await untilStatus(handle, (status) => status.rollback?.state === 'blocked');
        assert.deepEqual(given, [], 'blocked: the stopped old nodes stay without a policy');
        await handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice', reason: 'restoring by hand' }] });
        return handle.result();
      }),
    );
    // A node the person left stopped keeps `no` (and its record, which the next pre-flight names); one that runs gets its policy.
    assert.deepEqual(given.sort((a, b) => a.node.localeCompare(b.node)), ['node-1', 'node-2', 'node-3'].map((node) => ({ node, ifRunning: true })));
    assert.ok(mock.calls.indexOf('restoreRestartPolicy:node-1:done') < mock.calls.lastIndexOf('sendNotification'), 'before the outcome mail');
  });

  it('gives traffic back to a quorum of old nodes after a rollback, taking a sick one out and reporting it', async () => {
    const mock = runningCluster({ waitNodeReady: ({ node }) => (node === 'node-3' ? failWith(FailureType.NodeNotReady, 'node-3 never came back') : undefined) });
    mock.plan.rollbackQuorum = 2;
    const { result, status } = await withUpgrade(mock, {}, async (handle) => {
      await awaitingDecision(handle);
      await handle.signal(rejectSignal, { by: 'alice', reason: 'no' });
      const ended = (await handle.result()) as VersionUpgradeResult;
      return { result: ended, status: await handle.query(statusQuery) };
    });
    assert.equal(result.outcome, 'rolled-back');
    assert.equal(status.nodes['node-3']?.state, 'failed');
    assert.ok(mock.calls.includes('setLoadBalancerServers:maint'), 'the sick node is taken out of the load balancer');
    assert.ok(mock.calls.includes('setMaintenanceMode:off:done'), 'users get the old version back');
  });

  it('finishes the rollback when an operator retries it after fixing the cause', async () => {
    let damaged = true;
    const mock = runningCluster({ restoreDatabase: () => (damaged ? failWith('RestoreFailed', 'dump checksum mismatch') : undefined) });
    const result = await withUpgrade(mock, {}, async (handle) => {
      await awaitingDecision(handle);
      await handle.signal(rejectSignal, { by: 'alice', reason: 'no' });
      await untilStatus(handle, (status) => status.rollback?.state === 'blocked');
      await refusedWith(handle.executeUpdate(retryRollbackUpdate, { args: [{ by: 'mallory' }] }), /mallory may not decide/);
      damaged = false;
      await handle.executeUpdate(retryRollbackUpdate, { args: [{ by: 'alice', reason: 'dump copied back from the offsite store' }] });
      return handle.result();
    });
    assert.equal((result as VersionUpgradeResult).outcome, 'rolled-back');
    assert.ok(mock.calls.includes('restoreDatabase:done') && mock.calls.includes('setMaintenanceMode:off:done'));
    const restored = mock.calls.indexOf('restoreDatabase:done');
    assert.ok(mock.calls.indexOf('startNode:node-1', restored) > restored, 'the old nodes start only after the data is back');
  });

  it('refuses bad input and a cluster already on the image before touching anything', async () => {
    const bad = runningCluster();
    assert.equal((await failureOf(withUpgrade(bad, { image: 'registry.test/nocobase' }, (h) => h.result()))).type, FailureType.InvalidInput);
    assert.equal((await failureOf(withUpgrade(bad, { approval: { timeout: 'soon' } }, (h) => h.result()))).type, FailureType.InvalidInput);
    assert.deepEqual(bad.calls, []);

    const same = runningCluster();
    const failure = await failureOf(withUpgrade(same, { image: 'registry.test/nocobase:1.6.0' }, (h) => h.result()));
    assert.equal(failure.type, FailureType.AlreadyOnImage);
    assert.ok(!same.calls.some((call) => call.startsWith('setMaintenanceMode') || call.startsWith('stopNode')));
  });

  it('refuses nodes that do not form one cluster before touching anything', async () => {
    const mock = runningCluster({ checkClusterInvariants: () => failWith(FailureType.ClusterInvariantViolated, 'node-3 differs from node-1 in APP_KEY') });
    const failure = await failureOf(withUpgrade(mock, {}, (handle) => handle.result()));
    assert.equal(failure.type, FailureType.ClusterInvariantViolated);
    assert.match(failure.message, /node-3 differs from node-1 in APP_KEY/);
    assert.ok(!mock.calls.some((call) => /^(setMaintenanceMode|stopNode|backupDatabase|ensureImages)/.test(call)), mock.calls.join(' '));
  });

  it('rolls back and ends cancelled when cancelled while awaiting approval', async () => {
    const mock = runningCluster();
    await withUpgrade(mock, {}, async (handle) => {
      await awaitingDecision(handle);
      await handle.cancel();
      const error = await handle.result().catch((caught: unknown) => caught);
      assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure, String(error));
    });
    assert.ok(mock.calls.includes('restoreDatabase:done'));
    assert.ok(mock.calls.includes('setMaintenanceMode:off:done'));
  });
});

/** An update the workflow's validator refused, with a reason that matches. */
async function refusedWith(update: Promise<unknown>, reason: RegExp): Promise<void> {
  const error = await update.then(() => assert.fail('the update was expected to be refused'), (caught: unknown) => caught);
  assert.ok(error instanceof WorkflowUpdateFailedError, `expected a refused update, got ${String(error)}`);
  assert.match(String(error.cause?.message), reason);
}

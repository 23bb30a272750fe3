import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signToken } from '../../src/adapters/approval/signing';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { inAppMaintenance, versionUpgrade } from '../../src/workflows';
import { approveSignal, decideUpdate, maintenanceDoneSignal, statusQuery, type Decision, type ProcedureStatus } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { TEST_SIGNING_KEY } from '../support/approval-keys';
import { SIGNED_APPROVERS, signedMockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const TARGET = 'registry.test/nocobase:1.7.0';
const [ALICE, BOB, CAROL] = SIGNED_APPROVERS;
type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;

const signedCluster = signedMockCluster;

async function statusWhen(handle: Upgrade, what: (status: ProcedureStatus) => boolean): Promise<ProcedureStatus> {
  for (let i = 0; i < 200; i++) {
    const status = await handle.query(statusQuery);
    if (what(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail('never got there');
}

/** The update's refusal message (validator or handler), or a failure when it was accepted. */
async function refusal(handle: Upgrade, input: Decision): Promise<string> {
  const error = await handle.executeUpdate(decideUpdate, { args: [input] }).then(() => assert.fail('expected a refusal'), (caught: unknown) => caught);
  assert.ok(error instanceof WorkflowUpdateFailedError, String(error));
  return error.cause?.message ?? '';
}

function upgrade(mock: ReturnType<typeof signedCluster>, input: Partial<VersionUpgradeInput>, body: (handle: Upgrade) => Promise<VersionUpgradeResult>) {
  return withMockedWorker(env, mock.activities, async (taskQueue) => {
    const handle = (await env.client.workflow.start(versionUpgrade, {
      taskQueue,
      workflowId: procedureWorkflowId(mock.plan.cluster),
      args: [{ cluster: mock.plan.cluster, image: TARGET, ...input }],
    })) as Upgrade;
    return body(handle);
  });
}

describe('signed approvals', () => {
  it('refuse a plain name, another run\'s link, an expired or forged one, then take a valid link once, recording who and how', async () => {
    const mock = signedCluster();
    const result = await upgrade(mock, { startedBy: ALICE }, async (handle) => {
      await statusWhen(handle, (status) => status.approval?.state === 'awaiting' && mock.tokens.size === 3);
      const { workflowId, runId } = { workflowId: handle.workflowId, runId: (await handle.describe()).runId };
      assert.match(await refusal(handle, { decision: 'approve', by: 'alice' }), /takes only signed decisions: .*--run-id .*"token":"<token from the mail>"/);
      await handle.signal(approveSignal, { by: BOB });
      const otherRun = signToken(TEST_SIGNING_KEY, { workflowId, runId: 'an-earlier-run', recipient: BOB, kinds: ['approve'], expiresAtMs: Date.now() + 60_000 }).token;
      assert.match(await refusal(handle, { decision: 'approve', token: otherRun }), /issued for run an-earlier-run .* the run waiting now is/);
      const expired = signToken(TEST_SIGNING_KEY, { workflowId, runId, recipient: BOB, kinds: ['approve'], expiresAtMs: Date.now() - 1000 }).token;
      assert.match(await refusal(handle, { decision: 'approve', token: expired }), /expired/);
      const forged = signToken({ id: 'test', secret: Buffer.from('not-the-deployment-key-but-long-enough!!') }, { workflowId, runId, recipient: BOB, kinds: ['approve'], expiresAtMs: Date.now() + 60_000 }).token;
      assert.match(await refusal(handle, { decision: 'approve', token: forged }), /signature is not valid/);
      const unchanged = await handle.query(statusQuery);
      assert.equal(unchanged.approval?.state, 'awaiting', 'nothing changed');
      assert.deepEqual(unchanged.approval?.approvers, [], 'the status names no approvers');
      assert.match(unchanged.approval?.ignored[0]?.why ?? '', /only signed decisions/);
      const recorded = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', token: mock.tokens.get(BOB)!, comment: 'ok' }] });
      assert.deepEqual([recorded.by, recorded.how, recorded.comment], [BOB, 'token', 'ok']);
      return handle.result();
    });
    assert.equal(result.outcome, 'upgraded');
    assert.equal(result.audit?.length, 1);
    assert.deepEqual([result.decision?.by, result.decision?.how, typeof result.decision?.tokenId], [BOB, 'token', 'string']);
    assert.ok(mock.calls.includes('sendDecisionRequest') && mock.calls.includes('verifyApprovalToken'));
    assert.ok(!mock.calls.includes('sendNotification:approvers'), 'the request went out with links');
  });

  it('need two distinct approvers under minApprovals 2: the same link twice and the same person twice are refused', async () => {
    const mock = signedCluster({ minApprovals: 2 });
    const result = await upgrade(mock, {}, async (handle) => {
      await statusWhen(handle, (status) => status.approval?.state === 'awaiting' && mock.tokens.size === 3);
      const bobs = mock.tokens.get(BOB)!;
      const first = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', token: bobs, channel: 'link' }] });
      assert.equal(first.how, 'link');
      assert.equal((await handle.query(statusQuery)).approval?.state, 'awaiting', 'one approval of two');
      assert.match(await refusal(handle, { decision: 'approve', token: bobs }), /already used/);
      const { runId } = await handle.describe();
      const again = signToken(TEST_SIGNING_KEY, { workflowId: handle.workflowId, runId, recipient: BOB, kinds: ['approve'], expiresAtMs: Date.now() + 60_000 }).token;
      assert.match(await refusal(handle, { decision: 'approve', token: again }), /bob@example\.test has already approved; 1 more approval\(s\) from other approvers are needed/);
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', token: mock.tokens.get(CAROL)! }] });
      return handle.result();
    });
    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual(result.audit?.map((entry) => [entry.by, entry.how]), [[BOB, 'link'], [CAROL, 'token']]);
  });

  it('refuse onTimeout proceed at preflight when the cluster does not allow it, touching nothing', async () => {
    const mock = signedCluster();
    const error = await upgrade(mock, { approval: { timeout: '1s', onTimeout: 'proceed' } }, (handle) => handle.result()).then(() => assert.fail('expected a refusal'), (caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure);
    assert.equal(error.cause.type, FailureType.InvalidInput);
    assert.match(error.cause.message, /"proceed" is not allowed/);
    assert.ok(!mock.calls.some((call) => call.startsWith('setMaintenanceMode')), 'nothing touched');
  });

  it('take maintenanceDone only from an approver while the maintenance step waits for it (open mode; signed mode takes a token: signed-decisions.test.ts)', async () => {
    const mock = signedCluster({ mode: 'open', links: false });
    await withMockedWorker(env, mock.activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(inAppMaintenance, { taskQueue, workflowId: procedureWorkflowId(mock.plan.cluster), args: [{ cluster: mock.plan.cluster }] });
      await handle.signal(maintenanceDoneSignal, { by: BOB }); // too early: not taken
      for (let i = 0; !/maintenanceDone/.test((await handle.query(statusQuery)).waitingFor ?? ''); i++) {
        if (i > 200) assert.fail('never waited for maintenanceDone');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await handle.signal(maintenanceDoneSignal, { by: 'mallory' });
      let status = await handle.query(statusQuery);
      assert.equal(status.step, 'maintenance', 'a stranger ends nothing');
      assert.match(status.approval?.ignored.at(-1)?.why ?? '', /mallory is not an approver/);
      await handle.signal(maintenanceDoneSignal, { by: BOB });
      for (let i = 0; (status = await handle.query(statusQuery)).approval?.state !== 'awaiting'; i++) {
        if (i > 200) assert.fail('never asked for the decision');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status.maintenanceDoneBy, BOB);
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'reject', by: CAROL, reason: 'not needed' }] });
      const result = await handle.result();
      assert.equal((result as { outcome: string }).outcome, 'rejected');
    });
  });
});

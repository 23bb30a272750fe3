import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client as PgClient } from 'pg';
import { FailureType } from '../../src/common/failure-types';
import { taskQueue } from '../../src/client/task-queue';
import { approveSignal, decideUpdate, rejectSignal, statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { fingerprint } from '../support/business-data';
import { receivedMail } from '../support/maildir';
import { startProber } from '../support/prober';
import { standinStorageListing } from '../support/storage-listing';
import { readStandinEvents } from '../../scripts/stack/demo-cluster';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { stackDeps, stackEnv } from '../support/stack';
import { versionUpgrade } from '../../src/workflows';

const containers = ['standin-node-1', 'standin-node-2', 'standin-node-3'];
type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;

async function images(): Promise<string[]> {
  const docker = stackDeps().docker(stackEnv().DOCKER_HOST);
  return Promise.all(containers.map(async (name) => (await docker.getContainer(name).inspect()).Config.Image));
}

async function sumOfAmounts(): Promise<number> {
  const db = new PgClient({ connectionString: stackEnv().STANDIN_DATABASE_URL });
  await db.connect();
  try {
    const columns = await db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'demo_orders' AND column_name = 'amount_cents'`);
    const sql = columns.rowCount ? 'SELECT sum(amount_cents) AS cents FROM demo_orders' : 'SELECT sum(amount * 100) AS cents FROM demo_orders';
    return Number((await db.query<{ cents: string }>(sql)).rows[0]?.cents);
  } finally {
    await db.end();
  }
}

const awaitingDecision = (handle: Upgrade) =>
  until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));

describe('versionUpgrade on the 3-node stand-in cluster, through the real worker process', () => {
  const suite = e2eSuite({ startCluster: true });

  async function startUpgrade(input: Partial<VersionUpgradeInput> = {}): Promise<Upgrade> {
    return (await suite.client.workflow.start(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2, ...input }],
    })) as Upgrade;
  }

  it('upgrades v1 to v2 once approved: every node on v2, data migrated, 503 then 200 for users, mails sent', async () => {
    const cents = await sumOfAmounts();
    const mailBefore = receivedMail(stackEnv().SMTP_MAILDIR).length;
    const prober = startProber(stackEnv().STANDIN_LB_URL);
    const handle = await startUpgrade();
    await awaitingDecision(handle);
    // Someone not on the allowlist: the signal is recorded and ignored, the update refused at once.
    await handle.signal(approveSignal, { by: 'mallory' });
    await assert.rejects(handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'mallory' }] }), (error: unknown) => {
      assert.ok(error instanceof WorkflowUpdateFailedError);
      assert.match(String(error.cause?.message), /mallory is not an approver/);
      return true;
    });
    assert.equal((await handle.query(statusQuery)).approval?.state, 'awaiting');
    await handle.signal(approveSignal, { by: 'alice', comment: 'smoke test passed' });
    const result = await handle.result();
    assert.deepEqual(result.ignoredDecisions.map((ignored) => ignored.by), ['mallory']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const probes = await prober.stop();

    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual(await images(), containers.map(() => stackEnv().STANDIN_IMAGE_V2));
    const after = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    assert.equal(after.version, '1.7.0');
    assert.equal(after.orders, 50, 'no business row lost');
    assert.equal(await sumOfAmounts(), cents, 'the migration kept every amount');
    assert.ok(after.columns.includes('amount_cents') && !after.columns.includes('amount'));

    const statuses = probes.map((probe) => probe.status);
    assert.deepEqual(statuses.filter((status) => status !== 200 && status !== 503), [], 'users never see a connection error');
    assert.ok(statuses.includes(503), 'users saw the maintenance page');
    assert.equal(statuses.at(-1), 200);
    // The report's window covers what users saw (probes every 100 ms, so allow one interval).
    const seen = probes.filter((probe) => probe.status === 503).map((probe) => probe.at);
    const observed = Math.max(...seen) - Math.min(...seen);
    assert.ok(result.maintenanceWindowMs !== undefined && result.maintenanceWindowMs + 500 >= observed, `window ${result.maintenanceWindowMs} ms, users saw ${observed} ms`);

    // This cluster's mail only: the real-NocoBase lane upgrades the demo cluster at the same time.
    const mail = receivedMail(stackEnv().SMTP_MAILDIR).slice(mailBefore).filter((message) => message.body.includes('maintenance-standin'));
    const request = mail.find((message) => /awaits your decision/.test(message.subject));
    assert.ok(request, JSON.stringify(mail.map((message) => message.subject)));
    // Bound to this run: an old mail's command cannot decide a later run.
    assert.match(request.body, new RegExp(`temporal workflow signal --namespace default --workflow-id maintenance-standin --run-id ${(await handle.describe()).runId} --name approve`));
    assert.match(request.body, /Temporal UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/maintenance-standin\//);
    const outcome = mail.find((message) => /upgraded to/.test(message.subject));
    assert.ok(outcome);
    assert.match(outcome.body, /Maintenance page shown for \d+\.\d s/);

    // The stack encrypts payloads: the whole raw history of this upgrade, as the server stores and
    // serves it, holds no plaintext of its input, status, checks or result.
    const { runId } = await handle.describe();
    let raw = Buffer.alloc(0);
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await suite.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId, runId }, ...(nextPageToken ? { nextPageToken } : {}) });
      raw = Buffer.concat([raw, Buffer.from(temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse.encode(page).finish())]);
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    assert.ok(raw.includes('binary/encrypted'), 'payloads say they are encrypted');
    for (const plain of [stackEnv().STANDIN_IMAGE_V2, 'smoke test passed', 'passed the automated checks', '"outcome"']) {
      assert.ok(!raw.includes(plain), `no plaintext ${plain} in the stored history`);
    }
  });

  for (const method of ['pg_dump', 'clone'] as const) {
    it(`rolls back image and data (${method}) when rejected: v1 serving, business data byte for byte as before`, async () => {
      const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
      const storageBefore = await standinStorageListing();
      const handle = await startUpgrade({ backupMethod: method });
      await awaitingDecision(handle);
      assert.equal((await fingerprint(stackEnv().STANDIN_DATABASE_URL)).version, '1.7.0', 'node-1 did migrate the data');
      assert.notEqual(await standinStorageListing(), storageBefore, 'the new version changed the shared storage');
      await handle.signal(rejectSignal, { by: 'ops@demo.test', reason: 'reports look wrong' });
      const result = await handle.result();

      assert.equal(result.outcome, 'rolled-back');
      assert.equal(result.backup?.method, method);
      assert.deepEqual(await images(), containers.map(() => stackEnv().STANDIN_IMAGE_V1));
      assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before);
      assert.equal(await standinStorageListing(), storageBefore, 'the shared storage is back byte for byte');
      assert.ok(result.storageBackup && result.storageBackup.files > 0);
      const response = await fetch(stackEnv().STANDIN_LB_URL);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-standin-version'), '1.6.0');
    });
  }

  it('rolls back when nobody decides within the approval timeout', async () => {
    const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    const handle = await startUpgrade({ approval: { timeout: '2s' } });
    const result = await handle.result();
    assert.equal(result.outcome, 'rolled-back');
    assert.match(result.reason ?? '', /nobody decided/);
    assert.deepEqual(await images(), containers.map(() => stackEnv().STANDIN_IMAGE_V1));
    assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before);
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);
  });

  it('rolls back image and data when cancelled in the middle, then ends cancelled', async () => {
    const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    const handle = await startUpgrade();
    await awaitingDecision(handle);
    await handle.cancel();
    const error = await handle.result().catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure, String(error));
    assert.deepEqual(await images(), containers.map(() => stackEnv().STANDIN_IMAGE_V1));
    assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before);
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);
  });

  it('rolls back on its own, within seconds of APP_ERROR, when the target image fails its upgrade', async () => {
    const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    const handle = await startUpgrade({ image: stackEnv().STANDIN_IMAGE_BROKEN });
    const error = await handle.result().catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    // The broken node stays up at 503 APP_ERROR (as NocoBase does); the wait fails on it at once
    // instead of after timeouts.nodeReady, and the rollback stops it.
    assert.equal(error.cause.type, FailureType.NodeFailed);
    const broken = containers.map((name) => readStandinEvents(stackEnv().STANDIN_EVENTS_DIR, name))
      .find((events) => events.some((entry) => entry.event === 'upgrade-failed'));
    assert.ok(broken, 'a node recorded the failed upgrade');
    const failedAt = Date.parse(broken.find((entry) => entry.event === 'upgrade-failed')!.at);
    const stop = broken.find((entry) => entry.event === 'stop' && Date.parse(entry.at) >= failedAt);
    assert.ok(stop, 'the rollback stopped the failed node');
    const rollbackAfterMs = Date.parse(stop.at) - failedAt;
    assert.ok(rollbackAfterMs < 10_000, `rollback started ${rollbackAfterMs} ms after APP_ERROR`);
    process.stdout.write(`# rollback started ${rollbackAfterMs} ms after the node answered APP_ERROR\n`);
    assert.deepEqual(await images(), containers.map(() => stackEnv().STANDIN_IMAGE_V1));
    assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before);
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);
  });
  // A worker killed in any step, and in any undo of a rollback: worker-killed.test.ts.
});

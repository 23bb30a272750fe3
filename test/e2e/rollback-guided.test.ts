import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client as PgClient } from 'pg';
import { FailureType } from '../../src/common/failure-types';
import { taskQueue } from '../../src/client/task-queue';
import { versionUpgrade } from '../../src/workflows';
import { abandonUpdate, rejectSignal, approveSignal, retryRollbackUpdate, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { fingerprint } from '../support/business-data';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { stackDeps, stackEnv } from '../support/stack';
import { startWorkerProcess } from '../support/worker-process';

// A rollback that never makes things worse, on the real stack: where an undo cannot finish it
// stops, says so and waits for a person; after the point of no return it leaves users on the
// new version. (Unit tests prove the rules; these prove them on Docker, PostgreSQL and HAProxy.)

type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;
const containers = ['standin-node-1', 'standin-node-2', 'standin-node-3'];
const HANG_GUARD = { timeout: 300_000 };

async function containerStates(): Promise<{ image: string; running: boolean }[]> {
  const docker = stackDeps().docker(stackEnv().DOCKER_HOST);
  return Promise.all(containers.map(async (name) => {
    const inspected = await docker.getContainer(name).inspect();
    return { image: inspected.Config.Image, running: inspected.State.Running };
  }));
}

async function lbStatus(): Promise<{ status: number; version: string | null }> {
  const response = await fetch(stackEnv().STANDIN_LB_URL, { signal: AbortSignal.timeout(5_000) });
  await response.arrayBuffer();
  return { status: response.status, version: response.headers.get('x-standin-version') };
}

const statusOf = (handle: Upgrade, what: string, test: (status: ProcedureStatus) => boolean) =>
  until(what, async () => {
    const status = await handle.query(statusQuery);
    return test(status) ? status : undefined;
  });

describe('a rollback that cannot finish on its own, on the stand-in cluster, through the real worker process', () => {
  const suite = e2eSuite({ startCluster: true });

  it('stops where the dump is damaged (no old node starts, the page stays up), then finishes when retried after the dump is fixed', HANG_GUARD, async () => {
    const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    const handle = (await suite.client.workflow.start(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2, backupMethod: 'pg_dump' }],
    })) as Upgrade;
    const verifying = await statusOf(handle, 'the upgrade to wait at verify', (status) => status.approval?.state === 'awaiting');
    const dump = verifying.backup?.location;
    assert.ok(dump, 'the status names the backup');
    const kept = join(mkdtempSync(join(tmpdir(), 'dump-')), 'kept.dump');
    copyFileSync(dump, kept);
    writeFileSync(dump, readFileSync(dump).subarray(0, 512)); // damaged: cut short

    await handle.signal(rejectSignal, { by: 'alice', reason: 'testing a damaged dump' });
    const blocked = await statusOf(handle, 'the rollback to stop and ask', (status) => status.rollback?.state === 'blocked');
    assert.equal(blocked.outcome, 'rollback-blocked');
    assert.equal(blocked.rollback?.unfinished[0]?.step, 'restore the database from the backup');
    assert.match(blocked.rollback?.unfinished[0]?.error ?? '', /\S/);
    assert.deepEqual(blocked.rollback?.unfinished.slice(1).map((outcome) => outcome.step), ['start the previous version, first node first', 'give the nodes their restart policies back', 'give traffic back to the nodes']);
    assert.deepEqual((await containerStates()).map((node) => node.running), [false, false, false], 'no node runs on data that was not restored');
    assert.equal((await lbStatus()).status, 503, 'users still see the maintenance page');

    copyFileSync(kept, dump);
    await handle.executeUpdate(retryRollbackUpdate, { args: [{ by: 'alice', reason: 'dump copied back' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'rolled-back');
    assert.deepEqual((await containerStates()).map((node) => node.image), containers.map(() => stackEnv().STANDIN_IMAGE_V1));
    const after = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    assert.equal(after.checksum, before.checksum, 'the data is as it was before the upgrade');
    assert.deepEqual(await lbStatus(), { status: 200, version: '1.6.0' });
    const final = await handle.query(statusQuery);
    assert.equal(final.rollback?.state, 'finished');
    assert.deepEqual(final.rollback?.decisions.map((decision) => [decision.action, decision.by]), [['retryRollback', 'alice']]);
  });

  it('after the point of no return, leaves the new version serving and keeps what users wrote', HANG_GUARD, async () => {
    // A worker whose cluster config names a public URL nobody answers: the upgrade fails at its
    // very last check, after users already reach the new version through the load balancer.
    const env = stackEnv();
    const configDir = mkdtempSync(join(tmpdir(), 'ponr-'));
    const config = join(configDir, 'clusters.yaml');
    writeFileSync(config, readFileSync(env.NOCOBASE_MAINTENANCE_CONFIG, 'utf8').replace(`url: ${env.STANDIN_LB_URL}`, 'url: http://127.0.0.1:9/'));
    const ponrQueue = `ponr-${Date.now()}`;
    const worker = await startWorkerProcess({ ...process.env, NOCOBASE_MAINTENANCE_CONFIG: config, NOCOBASE_MAINTENANCE_TASK_QUEUE: ponrQueue });
    try {
      const handle = (await suite.client.workflow.start(versionUpgrade, {
        taskQueue: ponrQueue,
        workflowId,
        args: [{ cluster: 'standin', image: env.STANDIN_IMAGE_V2 }],
      })) as Upgrade;
      await statusOf(handle, 'the upgrade to wait at verify', (status) => status.approval?.state === 'awaiting');
      await handle.signal(approveSignal, { by: 'alice' });
      const blocked = await statusOf(handle, 'the failure after the point of no return', (status) => status.rollback?.state === 'blocked');
      assert.ok(blocked.pointOfNoReturn, 'the status says users reached the new version');
      assert.match(blocked.rollback?.dataLoss ?? '', /loses what they did since/);
      assert.deepEqual(await lbStatus(), { status: 200, version: '1.7.0' }, 'users stay on the new version');

      const db = new PgClient({ connectionString: env.STANDIN_DATABASE_URL });
      await db.connect();
      await db.query('CREATE TABLE written_after_cutover (note text)');
      await db.query(`INSERT INTO written_after_cutover VALUES ('a user saved this on 1.7.0')`);
      await db.end();

      await handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice', reason: 'the public URL is a CDN hiccup; keep 1.7.0' }] });
      const error = await handle.result().then(() => undefined, (caught: unknown) => caught);
      assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
      assert.equal(error.cause.type, FailureType.LoadBalancerNotServing);
      assert.match(error.cause.message, /after the point of no return/);
      assert.deepEqual((await containerStates()).map((node) => node.image), containers.map(() => env.STANDIN_IMAGE_V2));
      const check = new PgClient({ connectionString: env.STANDIN_DATABASE_URL });
      await check.connect();
      const rows = await check.query<{ note: string }>('SELECT note FROM written_after_cutover');
      await check.end();
      assert.deepEqual(rows.rows.map((row) => row.note), ['a user saved this on 1.7.0'], 'what users wrote after the cutover is still there');
    } finally {
      await worker.stop();
    }
  });
});

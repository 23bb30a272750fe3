import type { WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { taskQueue } from '../../src/client/task-queue';
import { rejectSignal, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { versionUpgrade } from '../../src/workflows';
import { fingerprint } from '../support/business-data';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { stackEnv } from '../support/stack';
import { standinStorageListing } from '../support/storage-listing';
import { startWorkerProcess } from '../support/worker-process';

/**
 * Issue 22, part 1: two workers on the task queue, as on two machines, each with its own local
 * disk. The worker that took the backup is SIGKILLed for good at the decision; a fresh worker
 * runs the rollback. With an S3 store it finishes; with a private directory it refuses before
 * anything is emptied.
 */

type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;
const scratch = mkdtempSync(path.join(tmpdir(), 'backup-store-workers-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The stack's configuration with the stand-in's backup store replaced: one file per worker. */
function configWith(name: string, store: Record<string, unknown>): string {
  const config = parse(readFileSync(stackEnv().NOCOBASE_MAINTENANCE_CONFIG, 'utf8')) as { clusters: Record<string, { backup: Record<string, unknown> }> };
  const backup = config.clusters.standin!.backup;
  delete backup.directory;
  backup.store = store;
  const file = path.join(scratch, `${name}.yaml`);
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

/** Read when the scenario starts: a stack without SeaweedFS fails that scenario, naming what is missing. */
const s3Store = (prefix: string) => () => {
  const env = process.env;
  assert.ok(env.BACKUP_S3_ENDPOINT && env.BACKUP_S3_BUCKET && env.BACKUP_S3_CREDENTIALS_FILE, 'the stack exports its SeaweedFS S3 store (BACKUP_S3_*)');
  return { kind: 's3', bucket: env.BACKUP_S3_BUCKET, prefix, endpoint: env.BACKUP_S3_ENDPOINT, forcePathStyle: true, credentials: { file: env.BACKUP_S3_CREDENTIALS_FILE } };
};
const directoryStore = (name: string) => () => ({ kind: 'directory', path: path.join(scratch, name) });
type StoreOf = () => Record<string, unknown>;

function scenario(title: string, stores: { taker: StoreOf; other: StoreOf }, check: (handle: Upgrade, context: { before: Awaited<ReturnType<typeof fingerprint>>; storage: string; storageAtDecision: string }) => Promise<void>) {
  describe(title, () => {
    const takerEnv: NodeJS.ProcessEnv = {};
    // Before e2eSuite's own before(), which starts the worker with this environment.
    before(() => void (takerEnv.NOCOBASE_MAINTENANCE_CONFIG = configWith(`${title.length}-taker`, stores.taker())));
    const suite = e2eSuite({ startCluster: true, workerEnv: takerEnv });

    it('the worker that took the backup is SIGKILLed for good before the decision; a worker with an empty disk runs the rollback', { timeout: 600_000 }, async () => {
      const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
      const storage = await standinStorageListing();
      const handle = (await suite.client.workflow.start(versionUpgrade, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2 }] })) as Upgrade;
      await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined), 300_000);
      await suite.worker.kill(); // gone for good, with its disk
      suite.worker = await startWorkerProcess({ ...process.env, NOCOBASE_MAINTENANCE_CONFIG: configWith(`${title.length}-other`, stores.other()) });
      // The upgraded node wrote into the storage: what a refused restore must leave as it is.
      const storageAtDecision = await standinStorageListing();
      await handle.signal(rejectSignal, { by: 'ops@demo.test', reason: 'the backup taker is gone' });
      await check(handle, { before, storage, storageAtDecision });
    });
  });
}

scenario('an S3 backup store (SeaweedFS)', { taker: s3Store(`e2e-${process.pid}/`), other: s3Store(`e2e-${process.pid}/`) }, async (handle, { before, storage }) => {
  const result = await handle.result();
  assert.equal(result.outcome, 'rolled-back');
  assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before, 'the data checksum is the one before the upgrade');
  assert.equal(await standinStorageListing(), storage, 'the shared storage is back byte for byte');
  assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);
});

scenario(
  'a directory store that is each worker\'s private disk',
  { taker: directoryStore('worker-a'), other: directoryStore('worker-b') },
  async (handle, { storageAtDecision }) => {
    const blocked = await until('the rollback to stop and ask', async () => {
      const status: ProcedureStatus = await handle.query(statusQuery);
      return status.rollback?.state === 'blocked' ? status : undefined;
    }, 300_000);
    assert.equal(blocked.outcome, 'rollback-blocked');
    const refused = blocked.rollback?.unfinished[0];
    assert.equal(refused?.step, 'restore the shared storage from the backup', 'the first undo to need the backup is the one refused');
    assert.match(refused?.error ?? '', /backup store directory .*worker-b is not shared by every worker: this worker, .* cannot see .*worker-b\/standin-[0-9a-f]{12}\.marker, which the run with label [0-9a-f]{12} wrote on /);
    assert.match(refused?.error ?? '', /Nothing was emptied or renamed/);
    assert.equal(await standinStorageListing(), storageAtDecision, 'no upload was emptied: the refusal came before anything was touched');
    await handle.terminate('test done: a person would now run the worker that holds the backup');
  },
);

import { directoryOf } from '../support/backup-directory';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, open, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { prepareScript, swapPlaces } from '../../src/activities/storage/storage-swap';
import { after, before, describe, it } from 'node:test';
import { createStorageActivities } from '../../src/activities/storage/storage-backup';
import { TOOL_LABEL, toolContainerName } from '../../src/adapters/docker/tool-container';
import { FailureType } from '../../src/common/failure-types';
import type { StorageBackupRecord } from '../../src/common/procedure-types';
import { connectDocker } from '../../src/adapters/docker/connection';
import { inStandinStorage, standinStorageListing } from '../support/storage-listing';
import { standinActivities, runActivity, stackConfig, stackDeps, stackEnv } from '../support/stack';
import { dockerStorageOf } from '../../src/config/schema';

const cluster = 'standin';
const run = `it${process.pid}x${Date.now().toString(36)}`;
const label = (name: string): string => `${run}-${name}`;

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(() => assert.fail('expected the activity to fail'), (caught: unknown) => caught);
  assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error;
}

const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

describe('storage backup and restore against the real Docker engine', () => {
  const suite = standinActivities();
  // Our own client: the suite's deps are closed by the shared after() before ours runs.
  const docker = connectDocker(stackEnv().DOCKER_HOST);
  const demo = stackConfig().clusters.standin!;
  const storage = dockerStorageOf(demo)!;
  const directory = directoryOf(demo);
  let activities: ReturnType<typeof createStorageActivities>;
  let backup: StorageBackupRecord;
  let backedUp: string;

  const inVolume = (script: string): Promise<string> => inStandinStorage(script, { 'nocobase-maintenance.test': run });
  const listing = standinStorageListing;

  async function helpersOfThisRun(): Promise<string[]> {
    const helpers = await docker.listContainers({ all: true, filters: { label: [`${TOOL_LABEL}=storage`] } });
    return helpers.flatMap((info) => info.Names).filter((name) => name.includes(run));
  }

  before(async () => {
    activities = createStorageActivities(suite.deps);
    await runActivity(suite.activities.startNode, { cluster, node: 'node-1' });
    await runActivity(suite.activities.waitNodeReady, { cluster, node: 'node-1', requirePlugins: true });
    await runActivity(suite.activities.stopNode, { cluster, node: 'node-1' });
  });

  after(async () => {
    for (const file of await readdir(directory).catch(() => [])) {
      if (file.includes(run)) await rm(path.join(directory, file), { force: true });
    }
    for (const name of await helpersOfThisRun()) await docker.getContainer(name.replace(/^\//, '')).remove({ force: true });
  });

  it('pulls the tool image onto the storage\'s host when it is missing', async () => {
    await docker.getImage(demo.backup.toolImage).remove({ force: true }).catch(() => undefined);
    const record = await runActivity(activities.backupStorage, { cluster, label: label('pull') });
    assert.equal(record?.files, 2);
    assert.ok(await docker.getImage(demo.backup.toolImage).inspect());
  });

  it('archives what the node wrote into the volume, once per label, without leaving helpers behind', async () => {
    backedUp = await listing();
    assert.match(backedUp, /^\.\/uploads\/welcome\.txt 644 0:0 [0-9a-f]{64}$/m);
    assert.match(backedUp, /^\.\/plugins\/\.keep 644 0:0 e3b0c442/m, 'an empty plugins/.keep');
    assert.match(await inVolume('cat /storage/uploads/welcome.txt'), /^Welcome to the NocoBase stand-in\. This file was written on install\.\n$/);
    // Leftovers of an interrupted attempt: a helper under the label and a partial file.
    await docker.createContainer({ name: toolContainerName(cluster, label('b'), 'backup'), Image: demo.backup.toolImage, Cmd: ['true'], Labels: { [TOOL_LABEL]: 'storage' } });
    const final = path.join(directory, `standin-${label('b')}.storage.tar`);
    await writeFile(`${final}.partial-7`, 'half an archive');

    const started = Date.now();
    const taken = await runActivity(activities.backupStorage, { cluster, label: label('b') });
    assert.ok(taken, 'the stand-in cluster has storage');
    backup = taken;
    console.log(`    storage backup took ${Date.now() - started} ms (${backup.sizeBytes} bytes)`);
    assert.deepEqual({ ...backup, durationMs: 0, createdAt: '' }, {
      cluster, location: final, key: path.basename(final), label: label('b'), writtenBy: `${os.hostname()} (pid ${process.pid})`,
      sizeBytes: (await stat(final)).size, checksum: await sha256(final), files: 2, durationMs: 0, createdAt: '', source: 'volume:standin-storage',
    });
    assert.deepEqual(JSON.parse(await readFile(`${final}.json`, 'utf8')), backup);

    assert.deepEqual(await runActivity(activities.backupStorage, { cluster, label: label('b') }), backup);
    const files = (await readdir(directory)).filter((file) => file.includes(label('b'))).sort();
    assert.deepEqual(files, [`standin-${label('b')}.marker`, `standin-${label('b')}.storage.tar`, `standin-${label('b')}.storage.tar.json`]);
    assert.equal((await stat(directory)).mode & 0o777, 0o700, 'the backup directory is the worker\'s alone');
    for (const file of files) assert.equal((await stat(path.join(directory, file))).mode & 0o777, 0o600, file);
    assert.deepEqual(await helpersOfThisRun(), []);
  });

  it('restores the volume byte for byte, removing what was created after the backup, also when repeated', async () => {
    await inVolume('echo added > /storage/uploads/added.txt && echo changed >> /storage/uploads/welcome.txt && rm /storage/plugins/.keep && chmod 600 /storage/uploads/welcome.txt');
    assert.notEqual(await listing(), backedUp);

    const started = Date.now();
    const outcome = await runActivity(activities.restoreStorage, { cluster, backup, label: label('undo') });
    console.log(`    storage restore took ${Date.now() - started} ms`);
    assert.deepEqual(outcome, { restoredFrom: backup.location, files: 2 });
    assert.equal(await listing(), backedUp);

    assert.deepEqual(await runActivity(activities.restoreStorage, { cluster, backup, label: label('undo') }), outcome);
    assert.equal(await listing(), backedUp);
    assert.deepEqual(await helpersOfThisRun(), []);
  });

  it('finishes a restore that died half-way through the swap, on a fresh worker, and no upload is ever only in the archive', async () => {
    await inVolume('echo added > /storage/uploads/added.txt && echo changed >> /storage/uploads/welcome.txt');
    const places = swapPlaces(label('half'));
    // What a worker killed in the middle leaves: the archive unpacked beside the live files, and
    // part of the live entries (uploads/) already moved aside, the rest (plugins/) still in place.
    assert.equal((await inVolume(prepareScript(places)[2]!)).trim(), 'empty');
    const helper = await docker.createContainer({ Image: demo.backup.toolImage, Cmd: ['true'], Labels: { 'nocobase-maintenance.test': run }, HostConfig: { Mounts: [{ Type: 'volume', Source: storage.volume!, Target: '/storage' }] } });
    try {
      await helper.putArchive(createReadStream(backup.location), { path: `/storage/${places.staging}` });
    } finally {
      await helper.remove({ force: true });
    }
    await inVolume(`cd /storage && touch ${places.staging}/.nocobase-maintenance-staged && mkdir ${places.aside} && mv uploads ${places.aside}/`);
    assert.match(await inVolume(`cat /storage/${places.aside}/uploads/added.txt`), /^added$/m, 'the upload is set aside, not deleted');

    const fresh = createStorageActivities(suite.deps);
    const outcome = await runActivity(fresh.restoreStorage, { cluster, backup, label: label('half') });
    assert.deepEqual(outcome, { restoredFrom: backup.location, files: 2 });
    assert.equal(await listing(), backedUp, 'the storage is the backup, nothing of the swap left over');
    assert.equal((await inVolume('ls -a /storage')).split('\n').filter((name) => name.startsWith('.nocobase-maintenance-')).length, 0);
  });

  it('refuses a damaged archive before touching the storage', async () => {
    await inVolume('echo after > /storage/uploads/after-backup.txt');
    const before = await listing();
    const copy = path.join(directory, `standin-${label('corrupt')}.storage.tar`);
    await copyFile(backup.location, copy);
    const handle = await open(copy, 'r+');
    await handle.write(Buffer.from('X'), 0, 1, 700);
    await handle.close();

    const failure = await failureOf(runActivity(activities.restoreStorage, { cluster, backup: { ...backup, location: copy, key: path.basename(copy) }, label: label('corrupt') }));
    assert.equal(failure.type, FailureType.RestoreFailed);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /damaged/);
    assert.equal(await listing(), before, 'the storage is unchanged');
    assert.deepEqual(await helpersOfThisRun(), [], 'no helper was even created');
  });

  it('refuses to restore another cluster\'s archive', async () => {
    const failure = await failureOf(runActivity(activities.restoreStorage, { cluster, backup: { ...backup, cluster: 'other' }, label: label('other') }));
    assert.equal(failure.type, FailureType.RestoreFailed);
    assert.equal(failure.nonRetryable, true);
  });

  it('returns null for a cluster without storage', async () => {
    const deps = stackDeps(stackConfig((changed) => delete changed.storage));
    try {
      assert.equal(await runActivity(createStorageActivities(deps).backupStorage, { cluster, label: label('none') }), null);
    } finally {
      await deps.close();
    }
  });

  it('fails BackupFailed, not retryable, when the volume does not exist', async () => {
    const deps = stackDeps(stackConfig((changed) => (changed.storage = { ...storage, volume: `no-such-volume-${run}` })));
    try {
      const failure = await failureOf(runActivity(createStorageActivities(deps).backupStorage, { cluster, label: label('novolume') }));
      assert.equal(failure.type, FailureType.BackupFailed);
      assert.equal(failure.nonRetryable, true);
      await assert.rejects(docker.getVolume(`no-such-volume-${run}`).inspect(), 'no volume was created by the attempt');
    } finally {
      await deps.close();
    }
  });

  describe('a host directory (hostPath)', () => {
    let root: string;
    let deps: ReturnType<typeof stackDeps>;
    let hostActivities: ReturnType<typeof createStorageActivities>;

    /** The same listing taken on this machine: the Docker host is local. */
    async function hostListing(dir: string, base = dir): Promise<string[]> {
      const entries = await readdir(dir, { withFileTypes: true });
      const lines: string[] = [];
      for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        const full = path.join(dir, entry.name);
        const info = await stat(full).catch(() => null);
        const name = path.relative(base, full);
        if (entry.isSymbolicLink()) lines.push(`${name} -> ${await readlink(full)}`);
        else if (entry.isDirectory()) lines.push(`${name}/ ${info?.mode.toString(8)}`, ...(await hostListing(full, base)));
        else lines.push(`${name} ${info?.mode.toString(8)} ${await sha256(full)}`);
      }
      return lines;
    }

    before(async () => {
      root = await mkdtemp(path.join(os.tmpdir(), `storage-${run}-`));
      await mkdir(path.join(root, 'uploads', 'deep', 'er'), { recursive: true });
      await writeFile(path.join(root, 'uploads', 'deep', 'er', 'photo.bin'), createHash('sha512').update('x').digest());
      await writeFile(path.join(root, 'uploads', 'secret.txt'), 'only the owner\n');
      await chmod(path.join(root, 'uploads', 'secret.txt'), 0o600);
      await writeFile(path.join(root, 'uploads', 'a name with spaces.txt'), 'spaces\n');
      await writeFile(path.join(root, `${'long-name-'.repeat(12)}.txt`), 'a name past 100 bytes\n');
      await symlink('uploads/secret.txt', path.join(root, 'link-to-secret'));
      deps = stackDeps(stackConfig((changed) => (changed.storage = { dockerHost: storage.dockerHost, hostPath: root, mountPath: storage.mountPath })));
      hostActivities = createStorageActivities(deps);
    });

    after(async () => {
      await deps?.close();
      await rm(root, { recursive: true, force: true });
    });

    it('backs up and restores it byte for byte, modes, odd names and links included', async () => {
      const original = await hostListing(root);
      const record = await runActivity(hostActivities.backupStorage, { cluster, label: label('host') });
      assert.equal(record?.source, `hostPath:${root}`);
      assert.equal(record?.files, 4);

      await writeFile(path.join(root, 'uploads', 'secret.txt'), 'changed\n');
      await chmod(path.join(root, 'uploads', 'secret.txt'), 0o644);
      await rm(path.join(root, 'uploads', 'deep'), { recursive: true });
      await writeFile(path.join(root, 'new.txt'), 'new\n');
      assert.notDeepEqual(await hostListing(root), original);

      await runActivity(hostActivities.restoreStorage, { cluster, backup: record!, label: label('host') });
      assert.deepEqual(await hostListing(root), original);
    });
  });
});

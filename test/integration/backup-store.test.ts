import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { writeRecord } from '../../src/activities/backup/store/backup-objects';
import type { BackupStore } from '../../src/activities/backup/store/backup-store';
import { storeFor } from '../../src/activities/backup/store/factory';
import { markerKey, writeMarker } from '../../src/activities/backup/store/shared-marker';
import { pruneStore } from '../../src/activities/backup/store/store-retention';
import type { BackupStoreConfig } from '../../src/config/schema';

/**
 * The backup store's contract, run against each adapter on its real thing: a directory on disk,
 * and an S3 bucket on the stack's SeaweedFS (BACKUP_S3_* from .stack/env).
 */

const run = `${process.pid}x${Date.now().toString(36)}`;
const MIB = 1024 * 1024;

/** `size` pseudo-random bytes, generated chunk by chunk (never held whole), and their sha256. */
function generated(size: number, failAfter?: number): { stream: Readable; sha256: string } {
  const seed = randomBytes(MIB);
  const hash = createHash('sha256');
  for (let sent = 0; sent < size; sent += MIB) hash.update(seed.subarray(0, Math.min(MIB, size - sent)));
  async function* chunks() {
    for (let sent = 0; sent < size; sent += MIB) {
      if (failAfter !== undefined && sent >= failAfter) throw new Error('the source broke off');
      yield seed.subarray(0, Math.min(MIB, size - sent));
    }
  }
  return { stream: Readable.from(chunks()), sha256: hash.digest('hex') };
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function contract(name: string, config: () => BackupStoreConfig): void {
  describe(`the ${name} backup store`, () => {
    let store: BackupStore;
    const cluster = `store-${run}`;

    it('streams an object in and out with the same sha256, lists it by prefix, and deletes it', { timeout: 120_000 }, async () => {
      store = storeFor(config());
      await store.ensureReady();
      const size = 12 * MIB + 12_345; // past two 5 MiB parts: a real multipart upload on S3
      const source = generated(size);
      const started = Date.now();
      const stored = await store.put(`${cluster}-big.dump`, source.stream);
      console.log(`    put ${size} bytes in ${Date.now() - started} ms`);
      assert.deepEqual(stored, { key: `${cluster}-big.dump`, sizeBytes: size, sha256: source.sha256 });
      assert.deepEqual(await store.stat(`${cluster}-big.dump`), { sizeBytes: size });
      assert.equal(await sha256Of((await store.open(`${cluster}-big.dump`))!), source.sha256);

      await store.put(`${cluster}-small.json`, Readable.from([Buffer.from('{}')]));
      await store.put(`other-${run}-x.dump`, Readable.from([Buffer.from('x')]));
      const listed = (await store.list(`${cluster}-`)).map((entry) => [entry.key, entry.sizeBytes]).sort();
      assert.deepEqual(listed, [[`${cluster}-big.dump`, size], [`${cluster}-small.json`, 2]]);

      await store.delete(`${cluster}-big.dump`);
      await store.delete(`${cluster}-big.dump`); // absent: fine
      await store.delete(`other-${run}-x.dump`);
      await store.delete(`${cluster}-small.json`);
      assert.equal(await store.stat(`${cluster}-big.dump`), null);
      assert.equal(await store.open(`${cluster}-big.dump`), null);
    });

    it('leaves no object under the key when the stream breaks off half-way', { timeout: 120_000 }, async () => {
      const broken = generated(12 * MIB, 7 * MIB);
      await assert.rejects(store.put(`${cluster}-broken.dump`, broken.stream), /broke off/);
      assert.equal(await store.stat(`${cluster}-broken.dump`), null, 'an interrupted put is all-or-nothing');
      assert.deepEqual((await store.list(`${cluster}-broken`)).map((entry) => entry.key), []);
    });

    it('keeps the newest backup.keep labels and the run in progress, deleting the others with their sidecars and markers', { timeout: 60_000 }, async () => {
      const labels = ['l1', 'l2', 'l3', 'l4', 'l5'];
      for (const [index, label] of labels.entries()) {
        const key = `${cluster}-${label}.dump`;
        await store.put(key, Readable.from([Buffer.from(label)]));
        await writeMarker(store, cluster, label);
        await writeRecord(store, key, { cluster, label, createdAt: `2026-01-0${index + 1}T00:00:00.000Z`, checksum: 'x' });
      }
      // Another cluster whose name starts the same: never touched.
      await writeRecord(store, `${cluster}-l1-x.dump`, { cluster: `${cluster}-l1`, label: 'x', createdAt: '2020-01-01T00:00:00.000Z' });
      const pruned = await pruneStore(store, cluster, 2, (label) => label === 'l1');
      assert.deepEqual(pruned.kept.sort(), ['l1', 'l4', 'l5']);
      assert.deepEqual(pruned.deleted.sort(), [`${cluster}-l2.dump`, `${cluster}-l2.dump.json`, `${cluster}-l2.marker`, `${cluster}-l3.dump`, `${cluster}-l3.dump.json`, `${cluster}-l3.marker`]);
      const left = (await store.list(`${cluster}-`)).map((entry) => entry.key).sort();
      assert.deepEqual(left, [
        `${cluster}-l1-x.dump.json`, `${cluster}-l1.dump`, `${cluster}-l1.dump.json`, markerKey(cluster, 'l1'),
        `${cluster}-l4.dump`, `${cluster}-l4.dump.json`, markerKey(cluster, 'l4'),
        `${cluster}-l5.dump`, `${cluster}-l5.dump.json`, markerKey(cluster, 'l5'),
      ].sort());
      for (const key of left) await store.delete(key);
    });
  });
}

const directory = mkdtempSync(path.join(tmpdir(), 'backup-store-'));
after(() => rmSync(directory, { recursive: true, force: true }));
contract('directory', () => ({ kind: 'directory', path: path.join(directory, 'backups') }));

describe('the directory store on disk', () => {
  it('makes the directory the worker\'s alone and each object 0600', async () => {
    const store = storeFor({ kind: 'directory', path: path.join(directory, 'modes') });
    await store.put('c-x.dump', Readable.from([Buffer.from('x')]));
    assert.equal((await stat(path.join(directory, 'modes'))).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(directory, 'modes', 'c-x.dump'))).mode & 0o777, 0o600);
  });
});

contract('S3 (SeaweedFS)', () => {
  const env = process.env;
  const missing = ['BACKUP_S3_ENDPOINT', 'BACKUP_S3_BUCKET', 'BACKUP_S3_CREDENTIALS_FILE'].filter((name) => !env[name]);
  assert.deepEqual(missing, [], 'the stack exports the S3 store of its SeaweedFS (npm run stack:up && source .stack/env)');
  return {
    kind: 's3', bucket: env.BACKUP_S3_BUCKET!, prefix: `test-${run}/`, endpoint: env.BACKUP_S3_ENDPOINT!, region: env.BACKUP_S3_REGION ?? 'us-east-1',
    forcePathStyle: true, credentials: { file: env.BACKUP_S3_CREDENTIALS_FILE! }, partSizeMiB: 5,
  };
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { storeFor } from '../../src/activities/backup/store/factory';
import { s3KeysProvider } from '../../src/activities/backup/store/s3-credentials';
import { parseConfig } from '../../src/config/load';
import type { S3StoreConfig } from '../../src/config/schema';
import { configProblems } from '../support/config-problems';

const withBackup = (backup: string) => `
clusters:
  prod:
    nodes:
      - { name: node-1, dockerHost: "unix:///run/docker.sock", container: prod-1, healthUrl: "http://10.0.0.1:13000/api/__health_check" }
    database: { host: db, database: nocobase, user: nocobase, passwordEnv: PROD_DB_PASSWORD }
    loadBalancer: { runtimeApi: "unix:///run/haproxy/admin.sock", backend: prod_nodes, maintenanceMap: /etc/haproxy/maintenance.map }
    backup: ${backup}
`;

const s3 = '{ kind: s3, bucket: nocobase-backups, prefix: prod/, endpoint: "https://s3.example.com", forcePathStyle: true, credentials: { file: /run/secrets/backup-s3 } }';
const storeOf = (backup: string) => parseConfig(withBackup(backup), 'clusters.yaml').clusters.prod!.backup.store;
const problemsOf = (backup: string): string => configProblems(withBackup(backup)).join('\n');

describe('backup.store', () => {
  it('reads the older backup.directory as a directory store, so existing configurations keep their meaning', () => {
    assert.deepEqual(storeOf('{ directory: /var/backups/nocobase }'), { kind: 'directory', path: '/var/backups/nocobase' });
    assert.deepEqual(storeOf('{ store: { kind: directory, path: /mnt/shared/backups } }'), { kind: 'directory', path: '/mnt/shared/backups' });
  });

  it('takes an S3 store with its defaults: region us-east-1, 16 MiB parts, no server-side encryption', () => {
    assert.deepEqual(storeOf(`{ store: ${s3} }`), {
      kind: 's3', bucket: 'nocobase-backups', prefix: 'prod/', endpoint: 'https://s3.example.com', region: 'us-east-1', forcePathStyle: true,
      credentials: { file: '/run/secrets/backup-s3' }, partSizeMiB: 16,
    });
    const encrypted = storeOf(`{ store: ${s3.replace(/ }$/, ', serverSideEncryption: "aws:kms", kmsKeyId: alias/backups }')} }`);
    assert.equal(encrypted.kind === 's3' && encrypted.serverSideEncryption, 'aws:kms');
  });

  it('refuses neither and both of store and directory, saying which one to keep', () => {
    assert.match(problemsOf('{ method: pg_dump }'), /clusters\.yaml: clusters\.prod\.backup\.store: expected exactly one of backup\.store .* and backup\.directory/);
    assert.match(problemsOf(`{ directory: /b, store: ${s3} }`), /clusters\.prod\.backup\.store: expected exactly one of/);
  });

  it('refuses keys written inline instead of named, and names the kinds it knows', () => {
    assert.match(problemsOf(`{ store: ${s3.replace('{ file: /run/secrets/backup-s3 }', '{ accessKeyId: AKIA, secretAccessKey: shh }')} }`), /backup\.store\.credentials: expected credentials: \{ file: .* \(never the keys themselves\)/);
    assert.match(problemsOf(`{ store: ${s3.replace(/ }$/, ', secretAccessKey: shh }')} }`), /backup\.store: .*secretAccessKey/);
    assert.match(problemsOf('{ store: { kind: gcs, bucket: b } }'), /backup\.store\.kind: expected kind: s3 .* or kind: directory/);
  });

  it('says how to fix a wrong bucket, prefix, endpoint, path or part size', () => {
    assert.match(problemsOf(`{ store: ${s3.replace('bucket: nocobase-backups', 'bucket: Nocobase_Backups')} }`), /backup\.store\.bucket: expected an S3 bucket name/);
    assert.match(problemsOf(`{ store: ${s3.replace('prefix: prod/', 'prefix: /prod/')} }`), /backup\.store\.prefix: expected a key prefix without a leading slash/);
    assert.match(problemsOf(`{ store: ${s3.replace('"https://s3.example.com"', 's3.example.com')} }`), /backup\.store\.endpoint: expected the http\(s\) URL of the S3 endpoint/);
    assert.match(problemsOf(`{ store: ${s3.replace(/ }$/, ', partSizeMiB: 1 }')} }`), /backup\.store\.partSizeMiB: expected at least 5/);
    assert.match(problemsOf('{ store: { kind: directory, path: backups } }'), /backup\.store\.path: expected an absolute path/);
  });
});

describe('the backup store factory', () => {
  it('picks the adapter by kind and describes where the backups go', () => {
    const directory = storeFor({ kind: 'directory', path: '/var/backups/x' });
    assert.equal(directory.description, 'directory /var/backups/x');
    assert.equal(directory.locationOf('prod-abc.dump'), '/var/backups/x/prod-abc.dump');
    assert.equal(directory.localPath('prod-abc.dump'), '/var/backups/x/prod-abc.dump');
    const bucket = storeFor(storeOf(`{ store: ${s3} }`));
    assert.equal(bucket.description, 's3://nocobase-backups/prod/');
    assert.equal(bucket.locationOf('prod-abc.dump'), 's3://nocobase-backups/prod/prod-abc.dump');
    assert.equal(bucket.localPath('prod-abc.dump'), null, 'an object is streamed, never read in place');
  });

  it('refuses a directory key that climbs out of the directory', () => {
    assert.throws(() => storeFor({ kind: 'directory', path: '/var/backups/x' }).locationOf('../etc/passwd'), /outside \/var\/backups\/x/);
  });
});

describe('S3 credentials', () => {
  const base = storeOf(`{ store: ${s3} }`) as S3StoreConfig;

  it('reads the keys from the named file at each request, in the AWS shared-credentials spelling too', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 's3-keys-'));
    try {
      const file = path.join(dir, 'keys');
      writeFileSync(file, '[default]\naws_access_key_id = AKIAFIRST\naws_secret_access_key = first-secret\n');
      const keys = s3KeysProvider({ ...base, credentials: { file } })!;
      assert.deepEqual(await keys(), { accessKeyId: 'AKIAFIRST', secretAccessKey: 'first-secret' });
      writeFileSync(file, 'access_key_id: AKIAROTATED\nsecret_access_key: rotated\n');
      assert.deepEqual(await keys(), { accessKeyId: 'AKIAROTATED', secretAccessKey: 'rotated' }, 'a rotated file is picked up');
      writeFileSync(file, 'nothing here\n');
      await assert.rejects(keys(), /has no access_key_id and secret_access_key lines/);
      await assert.rejects(s3KeysProvider({ ...base, credentials: { file: path.join(dir, 'missing') } })!(), /cannot read the S3 credentials file .*missing \(backup\.store\.credentials\.file\): ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads them from the two named environment variables, naming the missing one', async () => {
    const config: S3StoreConfig = { ...base, credentials: { accessKeyIdEnv: 'KEY_ID', secretAccessKeyEnv: 'KEY_SECRET' } };
    assert.deepEqual(await s3KeysProvider(config, { KEY_ID: 'AKIA', KEY_SECRET: 's' })!(), { accessKeyId: 'AKIA', secretAccessKey: 's' });
    await assert.rejects(s3KeysProvider(config, { KEY_ID: 'AKIA' })!(), /the worker's environment has no KEY_SECRET \(backup\.store\.credentials\)/);
    assert.equal(s3KeysProvider({ ...base, credentials: undefined }), undefined, 'no credentials: the SDK default chain');
  });
});

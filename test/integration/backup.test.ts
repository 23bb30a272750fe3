import { directoryOf } from '../support/backup-directory';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { copyFile, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from 'pg';
import { createBackupActivities } from '../../src/activities/backup/database-backup';
import { FILE_COPY_FROM_BYTES } from '../../src/activities/backup/clone-method';
import { derivedName } from '../../src/adapters/postgres/whole-database';
import { FailureType } from '../../src/common/failure-types';
import type { BackupRecord } from '../../src/common/procedure-types';
import { standinActivities, runActivity, stackConfig, stackDeps, stackEnv } from '../support/stack';
import { withClient } from '../support/pg-client';

const cluster = 'standin';
const run = `it${process.pid}x${Date.now().toString(36)}`;
const label = (name: string): string => `${run}-${name}`;


const demoDb = (work: (client: Client) => Promise<void>): Promise<void> => withClient(stackEnv().STANDIN_DATABASE_URL, work);
const admin = <T>(work: (client: Client) => Promise<T>): Promise<T> => withClient(process.env.PG_ADMIN_URL ?? '', work);
const dbName = (): string => process.env.STANDIN_DB_NAME ?? 'nocobase_standin';
const urlFor = (database: string): string => {
  const url = new URL(stackEnv().STANDIN_DATABASE_URL);
  url.pathname = `/${database}`;
  return url.toString();
};

/** NocoBase's bookkeeping tables (so the backup records a version) and some business data. */
async function seed(): Promise<void> {
  await demoDb(async (db) => {
    await db.query(`
      CREATE TABLE "applicationVersion" (value varchar(255));
      INSERT INTO "applicationVersion" VALUES ('1.6.0');
      CREATE TABLE "applicationPlugins" (name text PRIMARY KEY, "builtIn" boolean, enabled boolean, installed boolean);
      INSERT INTO "applicationPlugins" VALUES ('acl', true, true, true), ('users', true, true, true);
      CREATE TABLE demo_orders (id serial PRIMARY KEY, customer text NOT NULL, amount numeric(10,2), placed_at timestamptz);
      INSERT INTO demo_orders (customer, amount, placed_at)
        SELECT 'customer ' || i, i * 3.5, '2024-01-01'::timestamptz + i * interval '1 hour' FROM generate_series(1, 50) i;
      CREATE INDEX demo_orders_customer ON demo_orders (customer);
      CREATE TABLE demo_notes (id bigint PRIMARY KEY, body jsonb);
      INSERT INTO demo_notes SELECT i, jsonb_build_object('n', i, 'text', repeat('x', i)) FROM generate_series(1, 200) i;`);
  });
}

/** Schema and rows of every table in public, as one md5: equal means the same business data. */
async function checksum(database = dbName()): Promise<string> {
  return withClient(urlFor(database), async (db) => {
    const tables = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    const parts: string[] = [];
    for (const { table_name: table } of tables.rows) {
      const columns = await db.query<{ c: string }>(
        `SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) AS c
           FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`,
        [table],
      );
      const rows = await db.query<{ m: string }>(`SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS m FROM public.${db.escapeIdentifier(table)} t`);
      parts.push(`${table}(${columns.rows[0]?.c}):${rows.rows[0]?.m}`);
    }
    const { rows } = await db.query<{ m: string }>('SELECT md5($1) AS m', [parts.join('\n')]);
    return rows[0]?.m ?? '';
  });
}

/** What an upgrade gone wrong might leave: changed schema, lost rows, a new table. */
async function damage(): Promise<void> {
  await demoDb(async (db) => {
    await db.query('ALTER TABLE demo_orders ADD COLUMN x int; DELETE FROM demo_orders WHERE id > 10; CREATE TABLE junk (id int); INSERT INTO junk VALUES (1)');
  });
}

async function tableExists(table: string, database = dbName()): Promise<boolean> {
  return withClient(urlFor(database), async (db) => (await db.query('SELECT 1 FROM pg_class WHERE relname = $1', [table])).rowCount === 1);
}

async function databaseExists(name: string): Promise<boolean> {
  return admin(async (db) => (await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error;
}

describe('backup and restore activities against the real PostgreSQL', () => {
  const suite = standinActivities();
  let activities: ReturnType<typeof createBackupActivities>;
  let original = '';
  const directory = directoryOf(stackConfig().clusters.standin!);

  before(async () => {
    activities = createBackupActivities(suite.deps);
    await seed();
    original = await checksum();
  });

  after(async () => {
    await admin(async (db) => {
      const { rows } = await db.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname LIKE $2', [
        `${dbName()}\\_bk\\_${run}%`,
        `${dbName()}\\_rb\\_${run}%`,
      ]);
      for (const { datname } of rows) await db.query(`DROP DATABASE IF EXISTS ${db.escapeIdentifier(datname)} WITH (FORCE)`);
    });
    for (const file of await readdir(directory).catch(() => [])) {
      if (file.includes(run)) await rm(path.join(directory, file), { force: true });
    }
  });

  it('measures the database and the free space of the backup directory', async () => {
    const dump = await runActivity(activities.checkBackupRoom, { cluster });
    assert.equal(dump.method, 'pg_dump');
    assert.ok(dump.databaseBytes > 1_000_000, `a seeded database is several MB, got ${dump.databaseBytes}`);
    assert.ok(dump.freeBytes !== null && dump.freeBytes > dump.databaseBytes);
    assert.equal(dump.enough, true);

    // The stack's cluster role may not run programs on the database server, so the server cannot
    // tell it its free space: said so, not reported as enough.
    const clone = await runActivity(activities.checkBackupRoom, { cluster, method: 'clone' });
    const { unknown, ...measured } = clone;
    assert.deepEqual({ ...measured, databaseBytes: 0 }, { method: 'clone', databaseBytes: 0, freeBytes: null, enough: null });
    assert.match(unknown ?? '', /pg_execute_server_program/);
  });

  describe('room for a clone on the database server', () => {
    /** A login that may run programs on the server (the stack's superuser), as an operator may grant. */
    const privileged = () => {
      const url = new URL(process.env.PG_ADMIN_URL ?? '');
      const login = suite.deps.databaseLogin(cluster);
      return { ...suite.deps, databaseLogin: () => ({ ...login, user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }) };
    };
    /** df -P output for a filesystem with `kib` KiB available: the server really runs it. */
    const smallDisk = (kib: number) => ({
      freeSpace: { program: () => `printf 'Filesystem 1024-blocks Used Available Capacity Mounted on\\nfake 100000 99000 ${kib} 99%% /\\n'` },
    });

    it('measures the free space of the database server\'s data directory when the login may ask', async () => {
      const room = await runActivity(createBackupActivities(privileged()).checkBackupRoom, { cluster, method: 'clone' });
      assert.equal(room.enough, true);
      assert.ok(room.freeBytes !== null && room.freeBytes > 2 * room.databaseBytes, JSON.stringify(room));
      assert.equal(room.unknown, undefined);
    });

    it('refuses a clone bigger than the free space, before cloning', async () => {
      const activities = createBackupActivities(privileged(), smallDisk(1024));
      const failure = await failureOf(runActivity(activities.checkBackupRoom, { cluster, method: 'clone' }));
      assert.equal(failure.type, FailureType.InsufficientBackupSpace);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /database server's data directory \(tablespace pg_default\) has 1\.0 MiB free; a clone of/);
      const [details] = failure.details as [{ freeBytes: number; databaseBytes: number }];
      assert.equal(details.freeBytes, 1024 * 1024);
      assert.ok(details.databaseBytes > details.freeBytes);

      const taking = await failureOf(runActivity(activities.backupDatabase, { cluster, method: 'clone', label: label('no-room') }));
      assert.equal(taking.type, FailureType.InsufficientBackupSpace);
      assert.equal(await databaseExists(derivedName(dbName(), 'bk', label('no-room'))), false);
    });
  });

  describe('pg_dump', () => {
    let backup: BackupRecord;

    it('takes a verified dump once per label and returns the same record on a retry', async () => {
      const started = Date.now();
      backup = await runActivity(activities.backupDatabase, { cluster, label: label('dump') });
      console.log(`    pg_dump backup took ${Date.now() - started} ms (${backup.sizeBytes} bytes)`);
      assert.equal(backup.method, 'pg_dump');
      assert.equal(backup.database, dbName());
      assert.equal(backup.applicationVersion, '1.6.0');
      assert.equal(backup.location, path.join(directory, `standin-${label('dump')}.dump`));
      assert.match(backup.checksum ?? '', /^[0-9a-f]{64}$/);

      const again = await runActivity(activities.backupDatabase, { cluster, label: label('dump') });
      assert.deepEqual(again, backup);
      const files = (await readdir(directory)).filter((file) => file.includes(label('dump'))).sort();
      assert.deepEqual(files, [`standin-${label('dump')}.dump`, `standin-${label('dump')}.dump.json`, `standin-${label('dump')}.marker`]);
      // The dump is the whole database: readable by the worker's user only.
      assert.equal((await stat(directory)).mode & 0o777, 0o700);
      for (const file of files) assert.equal((await stat(path.join(directory, file))).mode & 0o777, 0o600, file);
    });

    it('brings the data back, sets the damaged database aside, and does it once on a retry', async () => {
      await damage();
      const damaged = await checksum();
      assert.notEqual(damaged, original);

      const started = Date.now();
      const outcome = await runActivity(activities.restoreDatabase, { cluster, backup, label: label('undo') });
      console.log(`    pg_dump restore took ${Date.now() - started} ms`);
      assert.deepEqual(outcome, { restoredFrom: backup.location, setAsideAs: derivedName(dbName(), 'rb', label('undo')) });
      assert.equal(await checksum(), original);
      assert.equal(await tableExists('junk'), false);
      assert.equal(await checksum(outcome.setAsideAs), damaged, 'the damaged database is kept, not dropped');

      assert.deepEqual(await runActivity(activities.restoreDatabase, { cluster, backup, label: label('undo') }), outcome);
      assert.equal(await checksum(), original);
    });

    it('finishes a restore that crashed after setting the database aside', async () => {
      await damage();
      const aside = derivedName(dbName(), 'rb', label('crash'));
      await admin((db) => db.query(`ALTER DATABASE ${db.escapeIdentifier(dbName())} RENAME TO ${db.escapeIdentifier(aside)}`));

      await runActivity(activities.restoreDatabase, { cluster, backup, label: label('crash') });
      assert.equal(await checksum(), original);
      assert.equal(await tableExists('junk', aside), true);
    });

    it('drops a half-restored database and restores again', async () => {
      await damage();
      const aside = derivedName(dbName(), 'rb', label('half'));
      await admin(async (db) => {
        await db.query(`ALTER DATABASE ${db.escapeIdentifier(dbName())} RENAME TO ${db.escapeIdentifier(aside)}`);
        await db.query(`CREATE DATABASE ${db.escapeIdentifier(dbName())} OWNER ${db.escapeIdentifier(process.env.DEMO_DB_USER ?? 'nocobase')}`);
      });
      await demoDb(async (db) => void (await db.query('CREATE TABLE demo_orders (id int); CREATE TABLE half_done (id int)')));

      await runActivity(activities.restoreDatabase, { cluster, backup, label: label('half') });
      assert.equal(await checksum(), original);
      assert.equal(await tableExists('half_done'), false);
    });

    it('refuses a damaged dump before touching the database', async () => {
      await damage();
      const before = await checksum();
      const copy = path.join(directory, `standin-${label('corrupt')}.dump`);
      await copyFile(backup.location, copy);
      const handle = await open(copy, 'r+');
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 1000);
      byte[0] = (byte[0] ?? 0) ^ 0xff;
      await handle.write(byte, 0, 1, 1000);
      await handle.close();

      const failure = await failureOf(runActivity(activities.restoreDatabase, { cluster, backup: { ...backup, location: copy, key: path.basename(copy) }, label: label('corrupt') }));
      assert.equal(failure.type, FailureType.RestoreFailed);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /damaged/);
      assert.equal(await checksum(), before, 'the current database is unchanged');
      assert.equal(await databaseExists(derivedName(dbName(), 'rb', label('corrupt'))), false, 'nothing was set aside');
    });

    it('fails BackupFailed, not retryable, when pg_dump cannot be run', async () => {
      const deps = stackDeps(stackConfig((demo) => (demo.backup.pgBin = '/nonexistent/bin')));
      try {
        const failure = await failureOf(runActivity(createBackupActivities(deps).backupDatabase, { cluster, label: label('nobin') }));
        assert.equal(failure.type, FailureType.BackupFailed);
        assert.equal(failure.nonRetryable, true);
        assert.match(failure.message, /\/nonexistent\/bin\/pg_dump/);
      } finally {
        await deps.close();
      }
    });
  });

  describe('clone', () => {
    before(async () => {
      // Back to the original data for the clone tests.
      const dump = await runActivity(activities.backupDatabase, { cluster, label: label('dump') });
      await runActivity(activities.restoreDatabase, { cluster, backup: dump, label: label('reset') });
      assert.equal(await checksum(), original);
    });

    it('clones once per label and returns the same record on a retry', async () => {
      const backup = await runActivity(activities.backupDatabase, { cluster, method: 'clone', label: label('clone') });
      assert.equal(backup.method, 'clone');
      assert.equal(backup.location, derivedName(dbName(), 'bk', label('clone')));
      assert.ok(backup.location.length <= 63);
      assert.equal(backup.applicationVersion, '1.6.0');
      assert.ok(backup.sizeBytes > 1_000_000);
      assert.deepEqual(await runActivity(activities.backupDatabase, { cluster, method: 'clone', label: label('clone') }), backup);
      assert.equal(await checksum(backup.location), original);
    });

    it('brings the clone back in place of the damaged database, also on a retry', async () => {
      const backup = await runActivity(activities.backupDatabase, { cluster, method: 'clone', label: label('clone') });
      await damage();
      const damaged = await checksum();

      const outcome = await runActivity(activities.restoreDatabase, { cluster, backup, label: label('clone-undo') });
      assert.equal(outcome.restoredFrom, backup.location);
      assert.equal(await checksum(), original);
      assert.equal(await tableExists('junk'), false);
      assert.equal(await checksum(outcome.setAsideAs), damaged);
      assert.equal(await databaseExists(backup.location), false, 'the clone became the database');

      assert.deepEqual(await runActivity(activities.restoreDatabase, { cluster, backup, label: label('clone-undo') }), outcome);
      assert.equal(await checksum(), original);
    });

    it('finishes a clone restore that crashed after setting the database aside', async () => {
      const backup = await runActivity(activities.backupDatabase, { cluster, method: 'clone', label: label('clone2') });
      await damage();
      const aside = derivedName(dbName(), 'rb', label('clone-crash'));
      await admin((db) => db.query(`ALTER DATABASE ${db.escapeIdentifier(dbName())} RENAME TO ${db.escapeIdentifier(aside)}`));

      await runActivity(activities.restoreDatabase, { cluster, backup, label: label('clone-crash') });
      assert.equal(await checksum(), original);
    });

    it('refuses to clone while another role is connected, naming it', async () => {
      await withClient(process.env.PG_ADMIN_URL!.replace(/\/[^/]*$/, `/${dbName()}`), async () => {
        const failure = await failureOf(runActivity(activities.backupDatabase, { cluster, method: 'clone', label: label('busy') }));
        assert.equal(failure.type, FailureType.BackupFailed);
        assert.equal(failure.nonRetryable, false);
        assert.match(failure.message, /postgres \(pid \d+/);
      });
      assert.equal(await databaseExists(derivedName(dbName(), 'bk', label('busy'))), false);
    });

    it('discards a clone, and a second discard finds nothing to do', async () => {
      const backup = await runActivity(activities.backupDatabase, { cluster, method: 'clone', label: label('discard') });
      assert.equal(await databaseExists(backup.location), true);
      await runActivity(activities.discardBackup, { cluster, backup });
      assert.equal(await databaseExists(backup.location), false);
      await runActivity(activities.discardBackup, { cluster, backup });
    });

    it('clones a large database (FILE_COPY_FROM_BYTES and more) by copying its files, not through the WAL', async () => {
      const walPosition = () => admin(async (db) => (await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn')).rows[0]!.lsn);
      await demoDb(async (db) => {
        await db.query(`CREATE TABLE clone_filler AS SELECT g AS id, repeat(md5(g::text), 8) AS body FROM generate_series(1, ${Math.ceil(FILE_COPY_FROM_BYTES / 250)}) g`);
      });
      try {
        const withFiller = await checksum();
        const before = await walPosition();
        const backup = await runActivity(activities.backupDatabase, { cluster, method: 'clone', label: label('large') });
        const walBytes = await admin(async (db) => Number((await db.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS bytes', [before])).rows[0]!.bytes));
        assert.ok(backup.sizeBytes >= FILE_COPY_FROM_BYTES, `${backup.sizeBytes} bytes`);
        // WAL_LOG would have written the whole database to the WAL; other lanes' writes stay far below half of it.
        assert.ok(walBytes < backup.sizeBytes / 2, `${walBytes} bytes of WAL for a clone of ${backup.sizeBytes} bytes`);
        assert.equal(await checksum(backup.location), withFiller);
        await runActivity(activities.discardBackup, { cluster, backup });
      } finally {
        await demoDb(async (db) => {
          await db.query('DROP TABLE IF EXISTS clone_filler');
        });
      }
    });
  });

  it('fails without the password in the message when the password is wrong', async () => {
    process.env.IT_WRONG_BACKUP_PASSWORD = 'not-the-password-4711';
    const deps = stackDeps(
      stackConfig((demo) => {
        demo.database.passwordFile = undefined;
        demo.database.passwordEnv = 'IT_WRONG_BACKUP_PASSWORD';
      }),
    );
    try {
      for (const method of ['pg_dump', 'clone'] as const) {
        const failure = await failureOf(runActivity(createBackupActivities(deps).backupDatabase, { cluster, method, label: label('wrong') }));
        assert.ok([FailureType.DatabaseUnreachable, FailureType.BackupFailed].includes(failure.type as FailureType), failure.type ?? '');
        assert.equal(failure.nonRetryable, true, method);
        assert.doesNotMatch(failure.message, /not-the-password-4711/);
      }
    } finally {
      await deps.close();
    }
  });
});

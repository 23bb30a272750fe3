// test-lane: standin
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from 'pg';
import { createBackupActivities } from '../../src/activities/backup/database-backup';
import { FailureType } from '../../src/common/failure-types';
import type { ClusterConfig } from '../../src/config/schema';
import { withClient } from '../support/pg-client';
import { resetStandin, runActivity, stackConfig, stackDeps } from '../support/stack';

/**
 * Least privilege as production runs it: the nodes log in as their own role (DB_USER), which owns
 * the database and its tables; the worker logs in as a maintenance role that may act as that
 * owner (a member of it) but is not it. A restore must give everything back to the nodes' role,
 * and a maintenance role that could not do so is refused at pre-flight, before anything is stopped.
 */
const run = `own${process.pid}x${Date.now().toString(36)}`;
const app = `nm_app_${run}`;
const maintenance = `nm_maint_${run}`;
const stranger = `nm_stranger_${run}`;
const database = `nm_db_${run}`;
const PASSWORD = `pw-${run}`;
const PASSWORD_ENV = 'NM_RESTORE_OWNERS_TEST_PASSWORD';

const admin = <T>(work: (client: Client) => Promise<T>): Promise<T> => withClient(process.env.PG_ADMIN_URL ?? '', work);
/** A connection to the test database as `role`, the way a node (or the worker) logs in. */
function as<T>(role: string, work: (client: Client) => Promise<T>): Promise<T> {
  const url = new URL(process.env.PG_ADMIN_URL ?? '');
  url.username = role;
  url.password = PASSWORD;
  url.pathname = `/${database}`;
  return withClient(url.toString(), work);
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error;
}

describe('a restore by a maintenance login other than the nodes\' role', () => {
  const directory = mkdtempSync(join(tmpdir(), 'restore-owners-'));
  process.env[PASSWORD_ENV] = PASSWORD;
  const depsAs = (user: string, change: (standin: ClusterConfig) => void = () => undefined) =>
    stackDeps(stackConfig((standin) => {
      standin.database = { ...standin.database, database, user, passwordEnv: PASSWORD_ENV, passwordFile: undefined, ssl: false, sslRootCert: undefined };
      standin.backup = { ...standin.backup, method: 'pg_dump', store: { kind: 'directory', path: directory } };
      change(standin);
    }));

  before(async () => {
    // The stand-in's nodes are inspected for the table naming (DB_TABLE_PREFIX …) the backup reads with.
    await resetStandin();
    await admin(async (db) => {
      await db.query(`CREATE ROLE ${db.escapeIdentifier(app)} LOGIN PASSWORD '${PASSWORD}'`);
      await db.query(`CREATE ROLE ${db.escapeIdentifier(maintenance)} LOGIN CREATEDB PASSWORD '${PASSWORD}'`);
      await db.query(`GRANT ${db.escapeIdentifier(app)} TO ${db.escapeIdentifier(maintenance)}`);
      // May create databases, but may not act as the nodes' role: it cannot give tables back to it.
      await db.query(`CREATE ROLE ${db.escapeIdentifier(stranger)} LOGIN CREATEDB PASSWORD '${PASSWORD}'`);
      await db.query(`CREATE DATABASE ${db.escapeIdentifier(database)} OWNER ${db.escapeIdentifier(app)}`);
    });
    // The nodes create their tables themselves, as their own role.
    await as(app, async (db) => {
      await db.query(`
        CREATE TABLE "applicationVersion" (value varchar(255));
        INSERT INTO "applicationVersion" VALUES ('1.6.0');
        CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL);
        INSERT INTO orders (customer) SELECT 'customer ' || i FROM generate_series(1, 20) i;`);
    });
  });

  after(async () => {
    await resetStandin();
    rmSync(directory, { recursive: true, force: true });
    await admin(async (db) => {
      const { rows } = await db.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${database}%`]);
      for (const { datname } of rows) await db.query(`DROP DATABASE IF EXISTS ${db.escapeIdentifier(datname)} WITH (FORCE)`);
      for (const role of [maintenance, stranger, app]) await db.query(`DROP ROLE IF EXISTS ${db.escapeIdentifier(role)}`);
    });
  });

  it('records the database owner in the backup and gives the database and its tables back to it, so the nodes can still write', { timeout: 120_000 }, async () => {
    const deps = depsAs(maintenance);
    try {
      const activities = createBackupActivities(deps);
      const room = await runActivity(activities.checkBackupRoom, { cluster: 'standin' });
      assert.equal(room.enough, true);
      const backup = await runActivity(activities.backupDatabase, { cluster: 'standin', label: `${run}-dump` });
      await as(app, (db) => db.query("INSERT INTO orders (customer) VALUES ('after the backup')"));

      await runActivity(activities.restoreDatabase, { cluster: 'standin', backup, label: `${run}-undo` });

      // What the old version does on its first request: read and write its tables, create new ones.
      const written = await as(app, async (db) => {
        await db.query("INSERT INTO orders (customer) VALUES ('after the restore')");
        await db.query('CREATE TABLE after_restore (id int)');
        return (await db.query<{ n: string }>('SELECT count(*) AS n FROM orders')).rows[0]?.n;
      });
      assert.equal(written, '21', 'the backup\'s 20 rows and the one written after the restore');
      const owners = await admin(async (db) => {
        const { rows } = await db.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [database]);
        return rows[0]?.owner;
      });
      assert.equal(owners, app, 'the restored database belongs to the nodes\' role');
      const tables = await as(app, async (db) => {
        const { rows } = await db.query<{ name: string; owner: string }>(
          "SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S') ORDER BY 1",
        );
        return rows;
      });
      assert.deepEqual(tables.map((row) => row.owner), tables.map(() => app), JSON.stringify(tables));
      assert.equal(backup.owner, app, 'the backup records whom the database belonged to');
    } finally {
      await deps.close();
    }
  });

  it('refuses at pre-flight a login that cannot act as the database owner, naming both, before any backup is taken', { timeout: 120_000 }, async () => {
    const deps = depsAs(stranger);
    try {
      const failure = await failureOf(runActivity(createBackupActivities(deps).checkBackupRoom, { cluster: 'standin' }));
      assert.equal(failure.type, FailureType.RestoreNotPossible);
      assert.equal(failure.nonRetryable, true);
      assert.ok(failure.message.includes(stranger) && failure.message.includes(app), failure.message);
    } finally {
      await deps.close();
    }
  });

  it('runs pg_dump --schema-only against the server at pre-flight: a pg_dump that cannot dump is refused before anything is stopped', { timeout: 120_000 }, async () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-pg-bin-'));
    const deps = depsAs(maintenance, (standin) => {
      standin.backup.pgBin = empty;
    });
    try {
      const failure = await failureOf(runActivity(createBackupActivities(deps).checkBackupRoom, { cluster: 'standin' }));
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /pg_dump/);
      assert.ok(failure.message.includes(empty), failure.message);
    } finally {
      await deps.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

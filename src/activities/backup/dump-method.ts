import { ApplicationFailure, log } from '@temporalio/activity';
import { availableParallelism } from 'node:os';
import { pipeline as pipe, Transform } from 'node:stream';
import type { Client, Pool } from 'pg';
import type { Hooks } from '../../adapters/hooks';
import type { PostgresLogin } from '../../adapters/postgres/login';
import { connectionArgs, runPgTool, type PgToolPlace } from '../../adapters/postgres/pg-tools';
import { ident } from '../../adapters/postgres/whole-database';
import { FailureType } from '../../common/failure-types';
import type { BackupRecord } from '../../common/procedure-types';
import { backupKey, checksumInStore, finishedRecord, keyOfRecord, thisWorker, verifyInStore, writeRecord } from './store/backup-objects';
import type { BackupStore, StoredObject } from './store/backup-store';

/**
 * The pg_dump method: a custom-format dump streamed into the cluster's backup store, checksummed
 * on the way and listed with `pg_restore --list` before it counts as a backup, kept with a JSON
 * sidecar holding its BackupRecord (store/backup-objects.ts: an object without its sidecar is
 * never trusted).
 */

/** Who runs pg_dump/pg_restore, where they are, and where they report. */
export interface DumpTools {
  login: PostgresLogin;
  place: PgToolPlace;
  hooks: Hooks;
}

/**
 * gzip level 1 instead of pg_dump's default 6: the dump runs while users see the maintenance page,
 * and level 1 compresses several times faster for a somewhat larger file (bench/rollback-size.ts
 * times both on the same data). A number, not `lz4`/`zstd`: those need pg_dump 16.
 */
export const DUMP_COMPRESSION = 1;

/**
 * pg_restore's parallel jobs: tables load and indexes build side by side. `--jobs` needs a
 * seekable file (a directory store's); a dump streamed from an object store is restored by one.
 * Capped: each job is a server backend as well.
 */
export function restoreJobs(cores = availableParallelism()): number {
  return Math.max(1, Math.min(4, cores));
}

/** The dump's key in the backup store: `<cluster>-<label>.dump`. */
export function dumpKey(clusterName: string, label: string): string {
  return backupKey(clusterName, label, '.dump');
}

/** The sidecar's record when the dump beside it still has the recorded checksum; otherwise null. */
export function finishedDump(store: BackupStore, key: string, hooks: Hooks): Promise<BackupRecord | null> {
  return finishedRecord<BackupRecord>(store, key, (found) => checksumInStore(store, found, hooks));
}

export interface DumpInput {
  clusterName: string;
  label: string;
  applicationVersion: string | null;
  /** Ordinary tables in the database before the dump; a dump of a non-empty database must hold table data. */
  tables: number;
  /** The database's owner, recorded so a restore gives the database back to it. */
  owner: string;
}

/**
 * Streams pg_dump's output into the backup store (a multipart upload for S3; no copy on the
 * worker's disk), completed only once pg_dump exited 0; then lists the stored dump with
 * `pg_restore --list` read back from the store, and writes the sidecar last.
 */
export async function takeDump(store: BackupStore, input: DumpInput, tools: DumpTools): Promise<BackupRecord> {
  const { login, place, hooks } = tools;
  const key = dumpKey(input.clusterName, input.label);
  const started = Date.now();
  let uploaded = 0;
  let stored: StoredObject | undefined;
  await runPgTool(
    {
      program: 'pg_dump',
      args: ['--format=custom', `--compress=${DUMP_COMPRESSION}`, ...connectionArgs(login), '-d', login.database],
      login,
      progress: () => Promise.resolve({ bytesUploaded: uploaded }),
      output: async (stdout, exited) => {
        const counted = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            uploaded += chunk.length;
            callback(null, chunk);
          },
          // The upload completes only after pg_dump exited 0: a dump cut short never becomes an object.
          flush: (callback) => void exited.then(() => callback(), (error: Error) => callback(error)),
        });
        // pipeline, not pipe: an error on either side must reach the store's put, never go unhandled.
        stored = await store.put(key, pipe(stdout, counted, () => undefined), hooks);
      },
    },
    place,
    FailureType.BackupFailed,
    hooks,
  );
  if (!stored) throw ApplicationFailure.retryable(`pg_dump of ${login.database} finished but nothing was stored`, FailureType.BackupFailed);
  const source = await store.open(key, hooks);
  if (!source) throw ApplicationFailure.retryable(`the dump ${store.locationOf(key)} vanished from the backup store right after it was written`, FailureType.BackupFailed);
  const listing = await runPgTool({ program: 'pg_restore', args: ['--list'], login: null, input: source }, place, FailureType.BackupFailed, hooks);
  const tableData = listing.stdout.split('\n').filter((line) => / TABLE DATA /.test(line)).length;
  if (input.tables > 0 && tableData === 0) {
    await store.delete(key);
    // The dump is unusable, and dumping again will not change that: an operator has to look.
    throw ApplicationFailure.nonRetryable(`dump ${store.locationOf(key)} lists no table data although ${login.database} has ${input.tables} tables`, FailureType.BackupFailed);
  }
  const record: BackupRecord = {
    method: 'pg_dump',
    cluster: input.clusterName,
    database: login.database,
    location: store.locationOf(key),
    key,
    label: input.label,
    writtenBy: thisWorker(),
    sizeBytes: stored.sizeBytes,
    checksum: stored.sha256,
    durationMs: Date.now() - started,
    createdAt: new Date(started).toISOString(),
    applicationVersion: input.applicationVersion,
    owner: input.owner,
  };
  await writeRecord(store, key, record);
  log.info('database dumped', { cluster: input.clusterName, location: record.location, sizeBytes: record.sizeBytes, tableData, durationMs: record.durationMs });
  return record;
}

/** Ordinary tables outside the system schemas. */
export async function countTables(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ tables: string }>(
    `SELECT count(*) AS tables FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`,
  );
  return Number(rows[0]?.tables ?? 0);
}

/** Refuses, before anything is touched, a dump that is missing from the store or no longer has its recorded checksum. */
export function verifyDump(store: BackupStore, backup: BackupRecord, hooks: Hooks): Promise<void> {
  return verifyInStore(store, keyOfRecord(backup), backup.checksum, 'dump file', hooks);
}

/**
 * Creates the database afresh, owned by `owner`, and loads the dump into it with the owners the
 * dump recorded (pg_restore's ALTER … OWNER for each object): the nodes log in as those owners,
 * not as the worker's login, and would otherwise meet "permission denied" on every table. The
 * login must be able to act as each owner; the pre-flight checked that (ensureRestorable). The
 * caller marks the database done afterwards.
 */
export async function restoreDump(store: BackupStore, client: Client, backup: BackupRecord, owner: string, tools: DumpTools): Promise<void> {
  const { login } = tools;
  const key = keyOfRecord(backup);
  // A directory store's file is read in place, by parallel jobs (pg_restore finds the data blocks
  // of a dump written through a pipe by scanning a seekable file); an object is streamed to stdin.
  const file = store.localPath(key);
  const input = file ? null : await store.open(key, tools.hooks);
  if (!file && !input) throw ApplicationFailure.nonRetryable(`dump file ${store.locationOf(key)} does not exist in the backup store ${store.description}`, FailureType.RestoreFailed);
  await client.query(`CREATE DATABASE ${ident(login.database)} OWNER ${ident(owner)}`);
  const started = Date.now();
  await runPgTool(
    {
      program: 'pg_restore',
      args: [...connectionArgs(login), '--exit-on-error', `--jobs=${file ? restoreJobs() : 1}`, '-d', login.database, ...(file ? [file] : [])],
      login,
      progress: async () => ({ elapsedMs: Date.now() - started }),
      ...(input ? { input } : {}),
    },
    tools.place,
    FailureType.RestoreFailed,
    tools.hooks,
  );
}

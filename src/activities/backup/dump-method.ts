import { ApplicationFailure, log } from '@temporalio/activity';
import { rename } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Client, Pool } from 'pg';
import { backupFiles, fileSize, finishedBackup, fsyncFile, writeSidecar, type BackupFiles } from '../../adapters/backup-files/backup-files';
import { sha256File } from '../../adapters/backup-files/file-hash';
import type { Hooks } from '../../adapters/hooks';
import type { PostgresLogin } from '../../adapters/postgres/login';
import { connectionArgs, runPgTool, type PgToolPlace } from '../../adapters/postgres/pg-tools';
import { ident } from '../../adapters/postgres/whole-database';
import { FailureType } from '../../common/failure-types';
import type { BackupRecord } from '../../common/procedure-types';

/**
 * The pg_dump method: a custom-format file, verified with `pg_restore --list` and checksummed
 * before it counts as a backup, kept with a JSON sidecar holding its BackupRecord (the protocol of
 * adapters/backup-files: a file without its sidecar is never trusted).
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
 * pg_restore's parallel jobs: tables load and indexes build side by side. A custom-format file
 * written by pg_dump to a file (never a pipe) has the data offsets `--jobs` needs. Capped: each
 * job is a server backend as well.
 */
export function restoreJobs(cores = availableParallelism()): number {
  return Math.max(1, Math.min(4, cores));
}

export function dumpFiles(clusterName: string, directory: string, label: string, attempt = 1): BackupFiles {
  return backupFiles(directory, clusterName, label, '.dump', attempt);
}

/** The sidecar's record when the dump beside it still has the recorded checksum; otherwise null. */
export function finishedDump(files: BackupFiles, hooks: Hooks): Promise<BackupRecord | null> {
  return finishedBackup<BackupRecord>(files, async (file) => ((await fileSize(file)) === null ? null : sha256File(file, hooks)));
}

export interface DumpInput {
  clusterName: string;
  files: BackupFiles;
  applicationVersion: string | null;
  /** Ordinary tables in the database before the dump; a dump of a non-empty database must hold table data. */
  tables: number;
  /** The database's owner, recorded so a restore gives the database back to it. */
  owner: string;
}

export async function takeDump(input: DumpInput, tools: DumpTools): Promise<BackupRecord> {
  const { files } = input;
  const { login, place, hooks } = tools;
  const started = Date.now();
  await runPgTool(
    {
      program: 'pg_dump',
      args: ['--format=custom', `--compress=${DUMP_COMPRESSION}`, `--file=${files.partial}`, ...connectionArgs(login), '-d', login.database],
      login,
      progress: async () => ({ bytesWritten: (await fileSize(files.partial)) ?? 0 }),
    },
    place,
    FailureType.BackupFailed,
    hooks,
  );
  const listing = await runPgTool({ program: 'pg_restore', args: ['--list', files.partial], login: null }, place, FailureType.BackupFailed, hooks);
  const tableData = listing.stdout.split('\n').filter((line) => / TABLE DATA /.test(line)).length;
  if (input.tables > 0 && tableData === 0) {
    // The dump is unusable, and dumping again will not change that: an operator has to look.
    throw ApplicationFailure.nonRetryable(`dump ${files.partial} lists no table data although ${login.database} has ${input.tables} tables`, FailureType.BackupFailed);
  }
  await fsyncFile(files.partial);
  const checksum = await sha256File(files.partial, hooks);
  const sizeBytes = (await fileSize(files.partial)) ?? 0;
  await rename(files.partial, files.final);
  const record: BackupRecord = {
    method: 'pg_dump',
    cluster: input.clusterName,
    database: login.database,
    location: files.final,
    sizeBytes,
    checksum,
    durationMs: Date.now() - started,
    createdAt: new Date(started).toISOString(),
    applicationVersion: input.applicationVersion,
    owner: input.owner,
  };
  await writeSidecar(files, record);
  log.info('database dumped', { cluster: input.clusterName, file: files.final, sizeBytes, tableData, durationMs: record.durationMs });
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

/** Refuses, before anything is touched, a dump that is missing or no longer has its recorded checksum. */
export async function verifyDump(backup: BackupRecord, hooks: Hooks): Promise<void> {
  if (!backup.checksum) {
    throw ApplicationFailure.nonRetryable(`backup ${backup.location} has no checksum to verify it by`, FailureType.RestoreFailed);
  }
  if ((await fileSize(backup.location)) === null) {
    throw ApplicationFailure.nonRetryable(`dump file ${backup.location} does not exist`, FailureType.RestoreFailed);
  }
  const actual = await sha256File(backup.location, hooks);
  if (actual !== backup.checksum) {
    throw ApplicationFailure.nonRetryable(
      `dump file ${backup.location} is damaged: sha256 ${actual} instead of the recorded ${backup.checksum}; nothing was changed`,
      FailureType.RestoreFailed,
    );
  }
}

/**
 * Creates the database afresh, owned by `owner`, and loads the dump into it with the owners the
 * dump recorded (pg_restore's ALTER … OWNER for each object): the nodes log in as those owners,
 * not as the worker's login, and would otherwise meet "permission denied" on every table. The
 * login must be able to act as each owner; the pre-flight checked that (ensureRestorable). The
 * caller marks the database done afterwards.
 */
export async function restoreDump(client: Client, backup: BackupRecord, owner: string, tools: DumpTools): Promise<void> {
  const { login } = tools;
  await client.query(`CREATE DATABASE ${ident(login.database)} OWNER ${ident(owner)}`);
  const started = Date.now();
  await runPgTool(
    {
      program: 'pg_restore',
      args: [...connectionArgs(login), '--exit-on-error', `--jobs=${restoreJobs()}`, '-d', login.database, backup.location],
      login,
      progress: async () => ({ elapsedMs: Date.now() - started }),
    },
    tools.place,
    FailureType.RestoreFailed,
    tools.hooks,
  );
}

import { ApplicationFailure, log } from '@temporalio/activity';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Client, Pool } from 'pg';
import { FailureType } from '../../common/failure-types';
import type { BackupRecord } from '../../common/procedure-types';
import type { ClusterConfig } from '../../config/schema';
import { databasePassword, fileSlug, ident } from '../../adapters/postgres/whole-database';
import { connectionArgs, fileSize, runPgTool, sha256File } from '../../adapters/postgres/pg-tools';

/**
 * The pg_dump method: a custom-format file, verified with `pg_restore --list` and checksummed
 * before it counts as a backup. Finished dumps have a JSON sidecar holding their BackupRecord;
 * a file without its sidecar is never trusted.
 */

export interface DumpFiles {
  final: string;
  partial: string;
  sidecar: string;
}

/**
 * The partial file is per attempt: a pg_dump orphaned by a worker that died mid-backup may still
 * be writing its own file, and must not scribble over the retry's.
 */
export function dumpFiles(clusterName: string, cluster: ClusterConfig, label: string, attempt = 1): DumpFiles {
  const final = path.resolve(cluster.backup.directory, `${clusterName}-${fileSlug(label)}.dump`);
  return { final, partial: `${final}.partial-${attempt}`, sidecar: `${final}.json` };
}

/** The sidecar's record when the dump beside it still has the recorded checksum; otherwise null. */
export async function finishedDump(files: DumpFiles): Promise<BackupRecord | null> {
  let record: BackupRecord;
  try {
    record = JSON.parse(await readFile(files.sidecar, 'utf8')) as BackupRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if ((await fileSize(files.final)) === null) return null;
  return (await sha256File(files.final)) === record.checksum ? record : null;
}

export interface DumpInput {
  clusterName: string;
  cluster: ClusterConfig;
  files: DumpFiles;
  applicationVersion: string | null;
  /** Ordinary tables in the database before the dump; a dump of a non-empty database must hold table data. */
  tables: number;
}

export async function takeDump(input: DumpInput): Promise<BackupRecord> {
  const { cluster, files } = input;
  const db = cluster.database;
  const started = Date.now();
  await runPgTool(
    {
      program: 'pg_dump',
      args: ['--format=custom', `--file=${files.partial}`, ...connectionArgs(db), '-d', db.database],
      db,
      password: databasePassword(db),
      progress: async () => ({ bytesWritten: (await fileSize(files.partial)) ?? 0 }),
    },
    cluster.backup.pgBin,
    FailureType.BackupFailed,
  );
  const listing = await runPgTool(
    { program: 'pg_restore', args: ['--list', files.partial], db, password: '' },
    cluster.backup.pgBin,
    FailureType.BackupFailed,
  );
  const tableData = listing.stdout.split('\n').filter((line) => / TABLE DATA /.test(line)).length;
  if (input.tables > 0 && tableData === 0) {
    // The dump is unusable, and dumping again will not change that: an operator has to look.
    throw ApplicationFailure.nonRetryable(`dump ${files.partial} lists no table data although ${db.database} has ${input.tables} tables`, FailureType.BackupFailed);
  }
  await fsyncFile(files.partial);
  const checksum = await sha256File(files.partial);
  const sizeBytes = (await fileSize(files.partial)) ?? 0;
  await rename(files.partial, files.final);
  const record: BackupRecord = {
    method: 'pg_dump',
    cluster: input.clusterName,
    database: db.database,
    location: files.final,
    sizeBytes,
    checksum,
    durationMs: Date.now() - started,
    createdAt: new Date(started).toISOString(),
    applicationVersion: input.applicationVersion,
  };
  // Written last and atomically: its presence is what says "this dump is complete and verified".
  await writeFileAtomically(files.sidecar, `${JSON.stringify(record, null, 2)}\n`);
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
export async function verifyDump(backup: BackupRecord): Promise<void> {
  if (!backup.checksum) {
    throw ApplicationFailure.nonRetryable(`backup ${backup.location} has no checksum to verify it by`, FailureType.RestoreFailed);
  }
  if ((await fileSize(backup.location)) === null) {
    throw ApplicationFailure.nonRetryable(`dump file ${backup.location} does not exist`, FailureType.RestoreFailed);
  }
  const actual = await sha256File(backup.location);
  if (actual !== backup.checksum) {
    throw ApplicationFailure.nonRetryable(
      `dump file ${backup.location} is damaged: sha256 ${actual} instead of the recorded ${backup.checksum}; nothing was changed`,
      FailureType.RestoreFailed,
    );
  }
}

/** Creates the database afresh and loads the dump into it. The caller marks it done afterwards. */
export async function restoreDump(client: Client, cluster: ClusterConfig, backup: BackupRecord): Promise<void> {
  const db = cluster.database;
  await client.query(`CREATE DATABASE ${ident(db.database)} OWNER ${ident(db.user)}`);
  const started = Date.now();
  await runPgTool(
    {
      program: 'pg_restore',
      args: [...connectionArgs(db), '--exit-on-error', '--no-owner', `--role=${db.user}`, '-d', db.database, backup.location],
      db,
      password: databasePassword(db),
      progress: async () => ({ elapsedMs: Date.now() - started }),
    },
    cluster.backup.pgBin,
    FailureType.RestoreFailed,
  );
}

export async function ensureDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true });
}

/** Removes every attempt's partial file of this dump (an orphan writing one keeps an unlinked inode). */
export async function removeStalePartial(files: DumpFiles): Promise<void> {
  const prefix = `${path.basename(files.final)}.partial`;
  const entries = await readdir(path.dirname(files.final)).catch(() => [] as string[]);
  await Promise.all(entries.filter((name) => name.startsWith(prefix)).map((name) => rm(path.join(path.dirname(files.final), name), { force: true })));
}

async function fsyncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeFileAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}

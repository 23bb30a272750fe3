import { ApplicationFailure } from '@temporalio/activity';
import { statfs } from 'node:fs/promises';
import type { Client } from 'pg';
import { ensureDirectory } from '../../adapters/backup-files/backup-files';
import { serverFreeSpace, type FreeSpaceOptions } from '../../adapters/postgres/server-space';
import { FailureType } from '../../common/failure-types';
import type { BackupMethod } from '../../common/procedure-types';
import type { ClusterConfig } from '../../config/schema';

/** Headroom over the database's size: a custom-format dump is usually far smaller, never much larger. */
const DUMP_SPACE_FACTOR = 1.2;
/**
 * A clone copies every file of the database on the server's disk and, from PostgreSQL 15 on
 * (CREATE DATABASE's WAL_LOG strategy), writes that copy to the WAL as well until a checkpoint
 * recycles it: twice the database, on the disk every node's data lives on.
 */
const CLONE_SPACE_FACTOR = 2;
const SPACE_MARGIN = 64 * 1024 * 1024;

export interface BackupRoom {
  method: BackupMethod;
  databaseBytes: number;
  /** Free bytes where the backup would go; null when they cannot be measured (see `unknown`). */
  freeBytes: number | null;
  /**
   * True when measured and enough (not enough throws InsufficientBackupSpace); null when the free
   * space could not be measured: then nobody checked, and `unknown` says why and how to check.
   */
  enough: boolean | null;
  unknown?: string;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function insufficient(where: string, freeBytes: number, what: string, databaseBytes: number, neededBytes: number): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `${where} has ${mib(freeBytes)} free; ${what} (${mib(databaseBytes)}) needs more than ${mib(neededBytes)}`,
    FailureType.InsufficientBackupSpace,
    { databaseBytes, freeBytes, neededBytes },
  );
}

/**
 * Room for a dump: the free space of a directory store (the directory is created). An object
 * store has no free space to ask for: `enough: null`, and `unknown` says so.
 */
export async function dumpRoom(cluster: ClusterConfig, databaseBytes: number): Promise<BackupRoom> {
  const store = cluster.backup.store;
  if (store.kind !== 'directory') {
    return { method: 'pg_dump', databaseBytes, freeBytes: null, enough: null, unknown: `the S3 store s3://${store.bucket}/${store.prefix} reports no free space; its quota is the bucket's` };
  }
  await ensureDirectory(store.path);
  const fs = await statfs(store.path);
  const freeBytes = fs.bavail * fs.bsize;
  const needed = Math.ceil(databaseBytes * DUMP_SPACE_FACTOR) + SPACE_MARGIN;
  if (freeBytes <= needed) throw insufficient(store.path, freeBytes, `a dump of ${cluster.database.database}`, databaseBytes, needed);
  return { method: 'pg_dump', databaseBytes, freeBytes, enough: true };
}

/**
 * Room for a clone: the free space of the filesystem the database's tablespace is on, asked of
 * the database server itself on `client` (a maintenance connection). A server that cannot tell
 * (the login may not run programs there) gives `enough: null` and the reason, never a guess.
 */
export async function cloneRoom(client: Client, cluster: ClusterConfig, databaseBytes: number, options: FreeSpaceOptions = {}): Promise<BackupRoom> {
  const space = await serverFreeSpace(client, cluster.database.database, options);
  if (space.freeBytes === null) return { method: 'clone', databaseBytes, freeBytes: null, enough: null, unknown: space.reason };
  const needed = Math.ceil(databaseBytes * CLONE_SPACE_FACTOR) + SPACE_MARGIN;
  if (space.freeBytes <= needed) {
    throw insufficient(`the database server's ${space.where}`, space.freeBytes, `a clone of ${cluster.database.database}`, databaseBytes, needed);
  }
  return { method: 'clone', databaseBytes, freeBytes: space.freeBytes, enough: true };
}

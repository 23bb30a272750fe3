import { ApplicationFailure, log } from '@temporalio/activity';
import type { Client } from 'pg';
import { FailureType } from '../../common/failure-types';
import type { BackupRecord } from '../../common/procedure-types';
import type { ClusterConfig } from '../../config/schema';
import { databaseInfo, databaseSize, ddlOnFreeDatabase, derivedName, ident, serverVersionNumber, setComment } from '../../adapters/postgres/whole-database';

/**
 * The clone method: `CREATE DATABASE <clone> TEMPLATE <db>` on the same server (a file copy for a
 * large database, see cloneStrategy). Fast and restored by a rename, but it lives on the same
 * disk as the database. The clone's comment says who made it and when; it is how a retry (or
 * discardBackup) tells our clone from anything else.
 */

const MARK = /^nocobase-maintenance backup of (.+) label (.+) at (\S+) \(application (.*), took (\d+) ms\)(; kept)?$/;

/**
 * Appended to a clone's mark by pruneBackups once the run that took it has finished: from then on
 * the clone is a backup under `backup.keep`, not something an interrupted run left (findLeftovers).
 */
const KEPT_SUFFIX = '; kept';

/**
 * From this size on a clone copies the database's files (`STRATEGY FILE_COPY`, PostgreSQL 15+)
 * instead of writing each page through the WAL (`WAL_LOG`, 15's default, which the server then
 * also has to flush and archive). FILE_COPY costs two checkpoints, which is why small databases
 * keep the default (bench/rollback-size.ts measures both at 10 MB and 1 GB).
 */
export const FILE_COPY_FROM_BYTES = 64 * 1024 * 1024;

/** The STRATEGY clause for a clone of `bytes` on a server of `versionNumber` (server_version_num); '' for the default. */
export function cloneStrategy(versionNumber: number, bytes: number): string {
  return versionNumber >= 150000 && bytes >= FILE_COPY_FROM_BYTES ? ' STRATEGY FILE_COPY' : '';
}

export function cloneName(database: string, label: string): string {
  return derivedName(database, 'bk', label);
}

function markPrefix(database: string, label: string): string {
  return `nocobase-maintenance backup of ${database} label ${label} at `;
}

/** True when the comment is one this activity writes on its clones (any database, any label). */
export function isOurClone(comment: string | null): boolean {
  return comment !== null && MARK.test(comment);
}

export interface CloneMark {
  database: string;
  label: string;
  createdAt: string;
  /** Kept by the finished run that took it (see KEPT_SUFFIX). */
  kept: boolean;
}

/** What a clone's mark says, or null when the comment is not one of ours. */
export function readCloneMark(comment: string | null): CloneMark | null {
  const mark = comment === null ? null : MARK.exec(comment);
  if (!mark) return null;
  return { database: mark[1] ?? '', label: mark[2] ?? '', createdAt: mark[3] ?? '', kept: mark[6] !== undefined };
}

/**
 * Marks the clone of `label` as kept by its finished run; false when there is no such clone of
 * ours. Idempotent.
 */
export async function keepClone(client: Client, database: string, label: string): Promise<boolean> {
  const clone = cloneName(database, label);
  const info = await databaseInfo(client, clone);
  const mark = readCloneMark(info.comment);
  if (!info.exists || !mark || mark.database !== database) return false;
  if (!mark.kept) await setComment(client, clone, `${info.comment}${KEPT_SUFFIX}`);
  return true;
}

export interface CloneInput {
  clusterName: string;
  cluster: ClusterConfig;
  label: string;
  /** Read before cloning, and only when a clone is actually taken. */
  applicationVersion: () => Promise<string | null>;
  /** Refuses (InsufficientBackupSpace) before cloning, and only when a clone is actually taken. */
  ensureRoom: () => Promise<void>;
}

export async function takeClone(client: Client, input: CloneInput): Promise<BackupRecord> {
  const db = input.cluster.database;
  const clone = cloneName(db.database, input.label);
  const prefix = markPrefix(db.database, input.label);
  const record = async (createdAt: string, durationMs: number, applicationVersion: string | null): Promise<BackupRecord> => ({
    method: 'clone',
    cluster: input.clusterName,
    database: db.database,
    location: clone,
    sizeBytes: await databaseSize(client, clone),
    durationMs,
    createdAt,
    applicationVersion,
  });

  const existing = await databaseInfo(client, clone);
  if (existing.exists) {
    const mark = existing.comment?.startsWith(prefix) ? MARK.exec(existing.comment) : null;
    if (mark) {
      const version = mark[4] ?? 'none';
      return record(mark[3] ?? '', Number(mark[5]), version === 'none' ? null : version);
    }
    // CREATE DATABASE cannot share a transaction with COMMENT, so a crash between the two leaves
    // our clone unmarked. The name embeds this run's label, so an unmarked database of ours
    // under it is that clone; a marked or foreign one is not, and is never adopted.
    if (existing.comment === null && existing.owner === db.user) {
      const createdAt = new Date().toISOString();
      const version = await input.applicationVersion();
      await setComment(client, clone, `${prefix}${createdAt} (application ${version ?? 'none'}, took 0 ms)`);
      log.warn('adopted an unmarked clone left by an interrupted attempt', { cluster: input.clusterName, clone });
      return record(createdAt, 0, version);
    }
    throw ApplicationFailure.nonRetryable(
      `database ${clone} exists but was not made by this backup (owner ${existing.owner}, comment ${JSON.stringify(existing.comment)})`,
      FailureType.BackupFailed,
    );
  }

  await input.ensureRoom();
  const version = await input.applicationVersion();
  const strategy = cloneStrategy(await serverVersionNumber(client), await databaseSize(client, db.database));
  const started = Date.now();
  await ddlOnFreeDatabase(
    client,
    db.database,
    `CREATE DATABASE ${ident(clone)} TEMPLATE ${ident(db.database)} OWNER ${ident(db.user)}${strategy}`,
    FailureType.BackupFailed,
    `clone ${db.database} (PostgreSQL copies a database only while nobody is connected to it)`,
  );
  const durationMs = Date.now() - started;
  const createdAt = new Date(started).toISOString();
  await setComment(client, clone, `${prefix}${createdAt} (application ${version ?? 'none'}, took ${durationMs} ms)`);
  log.info('database cloned', { cluster: input.clusterName, clone, durationMs });
  return record(createdAt, durationMs, version);
}

/** Refuses, before anything is touched, a clone that is gone or is not one of ours. */
export async function verifyClone(client: Client, backup: BackupRecord): Promise<void> {
  const clone = await databaseInfo(client, backup.location);
  if (!clone.exists) {
    throw ApplicationFailure.nonRetryable(`clone database ${backup.location} does not exist; nothing was changed`, FailureType.RestoreFailed);
  }
  if (!isOurClone(clone.comment)) {
    throw ApplicationFailure.nonRetryable(
      `database ${backup.location} is not a clone made by nocobase-maintenance (comment ${JSON.stringify(clone.comment)}); nothing was changed`,
      FailureType.RestoreFailed,
    );
  }
}

/** Puts the clone in the database's place. The caller marks it done afterwards. */
export async function restoreClone(client: Client, cluster: ClusterConfig, backup: BackupRecord): Promise<void> {
  await ddlOnFreeDatabase(
    client,
    backup.location,
    `ALTER DATABASE ${ident(backup.location)} RENAME TO ${ident(cluster.database.database)}`,
    FailureType.RestoreFailed,
    `rename clone ${backup.location} to ${cluster.database.database}`,
  );
}

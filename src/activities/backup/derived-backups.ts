import type { Client } from 'pg';
import { databasesDerivedFrom } from '../../adapters/postgres/derived-databases';
import { readCloneMark } from './clone-method';

/**
 * The databases backups and restores leave beside a cluster's database, and whether a finished
 * run kept them: clone backups (`<db>_bk_<label>`, kept once pruneBackups marked them after their
 * run) and databases set aside by a restore (`<db>_rb_<label>`, kept once the restore completed
 * and marked them). What no finished run kept was left by an interrupted one: findLeftovers
 * reports it and pruneBackups never drops it.
 */

const ASIDE_MARK = /^nocobase-maintenance set aside by the restore of (.+) label (.+) from (.+) at (\S+)$/;

/** The comment a completed restore writes on the database it set aside. */
export function asideMark(database: string, label: string, restoredFrom: string, at: Date): string {
  return `nocobase-maintenance set aside by the restore of ${database} label ${label} from ${restoredFrom} at ${at.toISOString()}`;
}

export type DerivedKind = 'clone-backup' | 'set-aside-database';

export interface DerivedBackup {
  kind: DerivedKind;
  name: string;
  /** The run's label from the mark, or the name's tail when unmarked. */
  label: string;
  createdAt: string | null;
  /** Kept by a run that finished; false: left by an interrupted one. */
  settled: boolean;
  /** The comment as it is, for the recovery steps. */
  comment: string | null;
}

export async function derivedBackups(client: Client, database: string): Promise<DerivedBackup[]> {
  const found: DerivedBackup[] = [];
  const tail = (name: string, infix: string) => name.slice(`${database}_${infix}_`.length);
  for (const db of await databasesDerivedFrom(client, database, 'bk')) {
    const mark = readCloneMark(db.comment);
    if (mark && mark.database === database) {
      found.push({ kind: 'clone-backup', name: db.name, label: mark.label, createdAt: mark.createdAt, settled: mark.kept, comment: db.comment });
    } else if (db.comment === null) {
      // Created, not yet marked: a backup interrupted between CREATE DATABASE and COMMENT.
      found.push({ kind: 'clone-backup', name: db.name, label: tail(db.name, 'bk'), createdAt: null, settled: false, comment: null });
    }
    // Marked by someone else: not ours to report or drop.
  }
  for (const db of await databasesDerivedFrom(client, database, 'rb')) {
    const mark = db.comment === null ? null : ASIDE_MARK.exec(db.comment);
    const settled = mark !== null && mark[1] === database;
    found.push({
      kind: 'set-aside-database',
      name: db.name,
      label: settled ? (mark[2] ?? '') : tail(db.name, 'rb'),
      createdAt: settled ? (mark[4] ?? null) : null,
      settled,
      comment: db.comment,
    });
  }
  return found;
}

/** Newest first; those without a time (unmarked) last. */
export function newestFirst(a: DerivedBackup, b: DerivedBackup): number {
  return (b.createdAt ?? '').localeCompare(a.createdAt ?? '');
}

import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { escapeIdentifier, escapeLiteral, type Client } from 'pg';
import type { FailureType } from '../../common/failure-types';
import { sqlState } from './errors';

/**
 * Whole-database operations (clone, rename, create, drop) for backups and restores. They run on
 * a connection to `maintenanceDatabase`: PostgreSQL refuses to copy, rename or drop a database
 * that anyone (ourselves included) is connected to.
 */

/** object_in_use: a session reconnected between our terminate and our DDL. */
const OBJECT_IN_USE = '55006';
const DDL_ATTEMPTS = 3;
const MAX_IDENTIFIER_BYTES = 63;

export const ident = escapeIdentifier;
export const literal = escapeLiteral;

export interface DatabaseInfo {
  exists: boolean;
  comment: string | null;
  owner: string | null;
}

export async function databaseInfo(client: Client, name: string): Promise<DatabaseInfo> {
  const { rows } = await client.query<{ comment: string | null; owner: string }>(
    `SELECT shobj_description(d.oid, 'pg_database') AS comment, pg_get_userbyid(d.datdba) AS owner
       FROM pg_database d WHERE d.datname = $1`,
    [name],
  );
  const row = rows[0];
  return row ? { exists: true, comment: row.comment, owner: row.owner } : { exists: false, comment: null, owner: null };
}

export async function databaseSize(client: Client, name: string): Promise<number> {
  const { rows } = await client.query<{ size: string }>('SELECT pg_database_size($1) AS size', [name]);
  return Number(rows[0]?.size ?? 0);
}

/** The server's version as a number: 150004 for 15.4. */
export async function serverVersionNumber(client: Client): Promise<number> {
  const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
  return Number(rows[0]?.server_version_num ?? 0);
}

export async function setComment(client: Client, database: string, comment: string): Promise<void> {
  await client.query(`COMMENT ON DATABASE ${ident(database)} IS ${literal(comment)}`);
}

/**
 * Ends this role's sessions on `database` (the worker's own idle pool connections among them:
 * the pools reconnect on their next query) and lists the client sessions of other roles, which
 * we may not and should not end: someone else is working there.
 */
async function freeDatabase(client: Client, database: string): Promise<string[]> {
  await client.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE usename = current_user AND datname = $1 AND pid <> pg_backend_pid()`,
    [database],
  );
  const { rows } = await client.query<{ who: string }>(
    // Other roles' rows show no backend_type to an unprivileged role; background workers have no usename.
    `SELECT format('%s (pid %s, %s)', usename, pid, coalesce(nullif(application_name, ''), host(client_addr), 'client')) AS who
       FROM pg_stat_activity
      WHERE datname = $1 AND usename IS NOT NULL AND usename <> current_user
        AND coalesce(backend_type, 'client backend') = 'client backend'`,
    [database],
  );
  return rows.map((row) => row.who);
}

/**
 * Runs DDL that needs `database` free of sessions. Sessions of other roles make it a retryable
 * failure naming them (they may go away; an operator may end them); our own are ended each try.
 */
export async function ddlOnFreeDatabase(client: Client, database: string, sql: string, failureType: FailureType, what: string): Promise<void> {
  let others: string[] = [];
  for (let attempt = 1; attempt <= DDL_ATTEMPTS; attempt++) {
    others = await freeDatabase(client, database);
    if (others.length > 0) break;
    try {
      await client.query(sql);
      return;
    } catch (error) {
      if (sqlState(error) !== OBJECT_IN_USE) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
  const who = others.length > 0 ? `other sessions are connected: ${others.join(', ')}` : 'sessions keep reconnecting to it';
  throw ApplicationFailure.retryable(`cannot ${what}: ${who}`, failureType, { database, connected: others });
}

/**
 * `<db>_<infix>_<label>` as a database name: the label reduced to [a-z0-9_], and cut to
 * PostgreSQL's 63 bytes. Whenever that loses information a hash of the label is appended, so two
 * labels never share a name and the same label always gives the same name (retries find it).
 */
export function derivedName(database: string, infix: string, label: string): string {
  const slug = label.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  const plain = `${database}_${infix}_${slug}`;
  if (slug === label && Buffer.byteLength(plain) <= MAX_IDENTIFIER_BYTES) return plain;
  const suffix = `_${createHash('sha256').update(label).digest('hex').slice(0, 8)}`;
  let head = plain;
  while (Buffer.byteLength(head + suffix) > MAX_IDENTIFIER_BYTES) head = head.slice(0, -1);
  return head + suffix;
}

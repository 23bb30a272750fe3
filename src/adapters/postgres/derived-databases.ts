import type { Client } from 'pg';
import { ident } from './whole-database';

/**
 * The databases this project derives from a cluster's database (`<db>_<infix>_<label>`, see
 * derivedName): clone backups (`bk`) and databases set aside by a restore (`rb`). Listing,
 * who uses them, and dropping, on a connection to the maintenance database.
 */

export interface NamedDatabase {
  name: string;
  comment: string | null;
  owner: string;
}

const likeEscaped = (text: string): string => text.replace(/[\\_%]/g, '\\$&');

/** Every database named `<database>_<infix>_…`, with its comment and owner. */
export async function databasesDerivedFrom(client: Client, database: string, infix: string): Promise<NamedDatabase[]> {
  const { rows } = await client.query<NamedDatabase>(
    `SELECT d.datname AS name, shobj_description(d.oid, 'pg_database') AS comment, pg_get_userbyid(d.datdba) AS owner
       FROM pg_database d WHERE d.datname LIKE $1 ORDER BY d.datname`,
    [`${likeEscaped(`${database}_${infix}_`)}%`],
  );
  return rows;
}

/** How many sessions (any role, ourselves excepted) are connected to `database`. */
export async function sessionsOn(client: Client, database: string): Promise<number> {
  const { rows } = await client.query<{ count: string }>(
    'SELECT count(*) AS count FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database],
  );
  return Number(rows[0]?.count ?? 0);
}

/**
 * Drops `database` unless someone is connected to it: unlike the restore's DDL, this never ends
 * sessions, since a session on a backup is someone using it. False when it was in use.
 */
export async function dropUnusedDatabase(client: Client, database: string): Promise<boolean> {
  if ((await sessionsOn(client, database)) > 0) return false;
  try {
    await client.query(`DROP DATABASE IF EXISTS ${ident(database)}`);
    return true;
  } catch (error) {
    // 55006 object_in_use: a session arrived between the look and the drop.
    if ((error as { code?: string }).code === '55006') return false;
    throw error;
  }
}

import type { Client, Pool } from 'pg';

/**
 * Who owns what in a cluster's database, and whether the worker's login may act as them. A
 * restore recreates the database and every object in it as the login, then hands each back to
 * its owner (CREATE DATABASE … OWNER, pg_restore's ALTER … OWNER); PostgreSQL allows that only to
 * a login that may SET ROLE to the owner (a member of it, or a superuser). The nodes log in as
 * that owner: objects left to the login answer them "permission denied".
 */

export interface OwnerGrant {
  owner: string;
  /** The login may act as this owner (SET ROLE; before PostgreSQL 16, membership). */
  may: boolean;
}

export interface RestoreRights {
  login: string;
  /** The login may create databases (CREATEDB or superuser): a pg_dump restore creates one. */
  createdb: boolean;
  databaseOwner: string;
  /** The database's owner first, then the other owners of its schemas, relations and functions. */
  owners: OwnerGrant[];
}

/** The role owning the database `queryable` is connected to. */
export async function currentDatabaseOwner(queryable: Pool | Client): Promise<string> {
  const { rows } = await queryable.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()');
  return rows[0]?.owner ?? '';
}

/**
 * What the connected login may do to restore the connected database. Objects of extensions are
 * left out (CREATE EXTENSION makes them, not an ALTER … OWNER), as is pg_database_owner, the
 * stand-in PostgreSQL 15 puts for whoever owns the database.
 */
export async function restoreRights(queryable: Pool | Client): Promise<RestoreRights> {
  const { rows: version } = await queryable.query<{ num: string }>("SELECT current_setting('server_version_num') AS num");
  // PostgreSQL 16 split membership from the right to SET ROLE, which is what ALTER … OWNER needs.
  const mode = Number(version[0]?.num ?? 0) >= 160000 ? 'SET' : 'MEMBER';
  const { rows } = await queryable.query<{ owner: string; may: boolean; first: boolean }>(
    `WITH owner_oids AS (
       SELECT datdba AS oid, true AS first FROM pg_database WHERE datname = current_database()
       UNION SELECT nspowner, false FROM pg_namespace n WHERE ${userSchema('n.nspname')} AND ${notExtension('n.oid')}
       UNION SELECT relowner, false FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${userSchema('n.nspname')} AND ${notExtension('c.oid')}
       UNION SELECT proowner, false FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${userSchema('n.nspname')} AND ${notExtension('p.oid')}
     )
     SELECT pg_get_userbyid(oid) AS owner, bool_or(first) AS first, pg_has_role(current_user, oid, '${mode}') AS may
       FROM owner_oids WHERE pg_get_userbyid(oid) <> 'pg_database_owner' GROUP BY oid ORDER BY bool_or(first) DESC, 1`,
  );
  const { rows: login } = await queryable.query<{ login: string; createdb: boolean }>(
    'SELECT current_user AS login, rolcreatedb OR rolsuper AS createdb FROM pg_roles WHERE rolname = current_user',
  );
  return {
    login: login[0]?.login ?? '',
    createdb: login[0]?.createdb ?? false,
    databaseOwner: rows.find((row) => row.first)?.owner ?? '',
    owners: rows.map(({ owner, may }) => ({ owner, may })),
  };
}

const userSchema = (column: string): string =>
  `${column} NOT IN ('pg_catalog', 'information_schema') AND ${column} NOT LIKE 'pg\\_toast%' AND ${column} NOT LIKE 'pg\\_temp\\_%'`;
const notExtension = (column: string): string => `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = ${column} AND d.deptype = 'e')`;

import { escapeLiteral, type Client } from 'pg';

/**
 * How much room the filesystem holding a database's files has, as the database server itself
 * sees it. PostgreSQL has no function for that: the one way in is a program run on the server
 * (`COPY ... FROM PROGRAM`), which only a superuser or a member of `pg_execute_server_program`
 * may do. Any other login gets an honest "cannot tell" with the reason, never a guess.
 */

/** `where` names the place measured, e.g. "data directory (tablespace pg_default)". */
export type FreeSpace = { freeBytes: number; where: string } | { freeBytes: null; reason: string };

export interface FreeSpaceOptions {
  /**
   * The shell command run on the database server that prints `df -P -k` output for `directory`
   * (relative to the data directory, the server's working directory). Tests replace it to fake a
   * small disk while still asking the real server.
   */
  program?: (directory: string) => string;
}

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
const DF = (directory: string): string => `df -P -k ${shellQuote(directory)}`;

/** The free bytes of the filesystem `database`'s default tablespace is on, or why they are unknown. */
export async function serverFreeSpace(client: Client, database: string, options: FreeSpaceOptions = {}): Promise<FreeSpace> {
  const { rows: grants } = await client.query<{ may: boolean; role: string }>(
    `SELECT rolsuper OR pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') AS may, current_user AS role
       FROM pg_roles WHERE rolname = current_user`,
  );
  const role = grants[0]?.role ?? 'this role';
  if (!grants[0]?.may) {
    return {
      freeBytes: null,
      reason: `the database server cannot tell ${role} its free disk space (that needs superuser or pg_execute_server_program); check the filesystem of its data directory (or the tablespace of ${database}) with df on the server`,
    };
  }
  const { rows: places } = await client.query<{ location: string; tablespace: string }>(
    `SELECT pg_tablespace_location(d.dattablespace) AS location, t.spcname AS tablespace
       FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1`,
    [database],
  );
  const place = places[0];
  if (!place) return { freeBytes: null, reason: `database ${database} does not exist` };
  // pg_default answers '' for its location: the data directory, which is the backend's working directory.
  const directory = place.location === '' ? '.' : place.location;
  const command = (options.program ?? DF)(directory);
  let lines: string[];
  try {
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE nocobase_maintenance_df (line text) ON COMMIT DROP');
    await client.query(`COPY nocobase_maintenance_df FROM PROGRAM ${escapeLiteral(command)}`);
    lines = (await client.query<{ line: string }>('SELECT line FROM nocobase_maintenance_df')).rows.map((row) => row.line);
  } catch (error) {
    return { freeBytes: null, reason: `the database server could not run \`${command}\`: ${(error as Error).message}` };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
  // df -P: "Filesystem 1024-blocks Used Available Capacity Mounted-on", one line per filesystem.
  const available = Number(lines.filter((line) => line.trim() !== '').at(-1)?.trim().split(/\s+/)[3]);
  if (!Number.isFinite(available)) return { freeBytes: null, reason: `\`${command}\` on the database server answered ${JSON.stringify(lines.join('\n'))}` };
  const where = place.location === '' ? `data directory (tablespace ${place.tablespace})` : `tablespace ${place.tablespace} at ${place.location}`;
  return { freeBytes: available * 1024, where };
}

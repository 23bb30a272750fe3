/**
 * How the worker logs in to a cluster's database server for whole-database work (clone, rename,
 * drop, pg_dump, pg_restore). Built by the worker (src/worker/deps.ts) from the configuration
 * and the worker's secrets, and handed to activities through ActivityDeps: nothing under
 * src/activities or src/adapters reads a password from the environment itself.
 */
export interface PostgresLogin {
  host: string;
  port: number;
  user: string;
  password: string;
  ssl: boolean;
  /** The cluster's own database: what is backed up and restored. */
  database: string;
  /** Where to connect while `database` is cloned, renamed or recreated (PostgreSQL refuses those on a database in use). */
  maintenanceDatabase: string;
}

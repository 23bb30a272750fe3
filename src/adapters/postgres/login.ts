import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

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
  /** CA file the server's certificate must chain to (with ssl); unset: the system's CAs. */
  sslRootCert?: string;
  /** The cluster's own database: what is backed up and restored. */
  database: string;
  /** Where to connect while `database` is cloned, renamed or recreated (PostgreSQL refuses those on a database in use). */
  maintenanceDatabase: string;
}

/**
 * Debian's bundle of the system's CAs: what both the worker's connections and libpq trust when no
 * CA file is configured.
 */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * The one CA file both TLS stacks trust: the configured one, else the system bundle. Node's own
 * bundled CAs are never used: libpq cannot read them, and a server that Node alone trusts would
 * pass the pre-flight and fail the restore behind the maintenance page.
 */
export function trustedCaFile(login: Pick<PostgresLogin, 'sslRootCert'>): string {
  return login.sslRootCert ?? SYSTEM_CA_BUNDLE;
}

/**
 * The TLS options of node-postgres for a login: with ssl, the server's certificate chain (against
 * trustedCaFile) and its host name are verified; without, no TLS.
 */
export function clientSsl(login: Pick<PostgresLogin, 'ssl' | 'sslRootCert'>): false | ConnectionOptions {
  if (!login.ssl) return false;
  return { rejectUnauthorized: true, ca: readFileSync(trustedCaFile(login), 'utf8') };
}

/**
 * libpq's equivalent for pg_dump and pg_restore: the same verification as the worker's own
 * connections (verify-full: the chain against the same file, and the host name), never a weaker
 * `require`.
 */
export function libpqSslEnv(login: Pick<PostgresLogin, 'ssl' | 'sslRootCert'>): NodeJS.ProcessEnv {
  if (!login.ssl) return { PGSSLMODE: 'prefer' };
  return { PGSSLMODE: 'verify-full', PGSSLROOTCERT: trustedCaFile(login) };
}

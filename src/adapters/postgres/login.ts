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

/** Debian's bundle of the system's CAs: what libpq verifies against when no CA file is configured. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * The TLS options of node-postgres for a login: with ssl, the server's certificate and name are
 * verified (against the configured CA, else Node's CAs); without, no TLS.
 */
export function clientSsl(login: Pick<PostgresLogin, 'ssl' | 'sslRootCert'>): false | ConnectionOptions {
  if (!login.ssl) return false;
  return { rejectUnauthorized: true, ...(login.sslRootCert ? { ca: readFileSync(login.sslRootCert, 'utf8') } : {}) };
}

/**
 * libpq's equivalent for pg_dump and pg_restore: the same verification as the worker's own
 * connections (verify-full: the chain and the host name), never a weaker `require`.
 */
export function libpqSslEnv(login: Pick<PostgresLogin, 'ssl' | 'sslRootCert'>): NodeJS.ProcessEnv {
  if (!login.ssl) return { PGSSLMODE: 'prefer' };
  return { PGSSLMODE: 'verify-full', PGSSLROOTCERT: login.sslRootCert ?? SYSTEM_CA_BUNDLE };
}

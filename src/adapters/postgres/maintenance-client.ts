import { Client } from 'pg';
import { databaseUnreachable } from './errors';
import { clientSsl, type PostgresLogin } from './login';

/**
 * Runs `work` on a fresh connection to the login's maintenance database: PostgreSQL refuses to
 * copy, rename or drop a database that anyone (ourselves included) is connected to, so this
 * connection is never one of the worker's pools. A failed connect is DatabaseUnreachable.
 */
export async function withMaintenanceClient<T>(login: PostgresLogin, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    host: login.host,
    port: login.port,
    database: login.maintenanceDatabase,
    user: login.user,
    password: login.password,
    ssl: clientSsl(login),
    connectionTimeoutMillis: 5_000,
  });
  // The server going away mid-operation surfaces as a failed query; this only keeps it from crashing the worker.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw databaseUnreachable(login, login.maintenanceDatabase, error);
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

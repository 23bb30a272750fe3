import { databaseUnreachable } from '../../adapters/postgres/errors';
import { getCluster } from '../cluster/lookup';
import { createNamingLookup } from '../cluster/naming-from-nodes';
import type { ActivityDeps } from '../deps';
import { readApplicationState, type ApplicationState } from '../../adapters/nocobase/application-state';

export interface DatabaseCheck extends ApplicationState {
  serverVersion: string;
}

export function createDatabaseActivities(deps: ActivityDeps) {
  const namingOf = createNamingLookup(deps);
  return {
    /**
     * Connects to the cluster's database and reads what NocoBase recorded there. Read-only; safe
     * to retry. Connection refusals are retried by policy; bad credentials fail at once. The
     * table names come from the first node's container (it is inspected, never changed).
     */
    async checkDatabase(input: { cluster: string }): Promise<DatabaseCheck> {
      const db = getCluster(deps, input.cluster).database;
      // Outside the try below: a Docker error is not a database error and must not be reported as one.
      const naming = await namingOf(input.cluster);
      try {
        const pool = deps.database(input.cluster);
        const server = await pool.query<{ server_version: string }>('SHOW server_version');
        return { serverVersion: server.rows[0]?.server_version ?? 'unknown', ...(await readApplicationState(pool, naming)) };
      } catch (error) {
        throw databaseUnreachable(db, db.database, error);
      }
    },
  };
}

import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import { getCluster } from '../cluster/lookup';
import { createNamingLookup } from '../cluster/naming-from-nodes';
import type { ActivityDeps } from '../deps';
import { readApplicationState, type ApplicationState } from '../../adapters/nocobase/application-state';

/** PostgreSQL error classes that a retry will not cure: bad password, unknown database, no permission. */
const PERMANENT_SQLSTATE = /^(28|3D|42501)/;

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
        if (error instanceof ApplicationFailure) throw error;
        const code = (error as { code?: string }).code ?? '';
        const message = `database ${db.database} at ${db.host}:${db.port} is not usable: ${(error as Error).message}`;
        if (PERMANENT_SQLSTATE.test(code)) throw ApplicationFailure.nonRetryable(message, FailureType.DatabaseUnreachable);
        throw ApplicationFailure.retryable(message, FailureType.DatabaseUnreachable);
      }
    },
  };
}

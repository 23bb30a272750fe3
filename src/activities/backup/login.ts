import { ApplicationFailure } from '@temporalio/activity';
import type { PostgresLogin } from '../../adapters/postgres/login';
import { FailureType } from '../../common/failure-types';
import type { ActivityDeps } from '../deps';

/** The worker's login for a cluster's database server; a secret it cannot resolve is a configuration mistake. */
export function loginFor(deps: ActivityDeps, cluster: string): PostgresLogin {
  try {
    return deps.databaseLogin(cluster);
  } catch (error) {
    throw ApplicationFailure.nonRetryable((error as Error).message, FailureType.Misconfigured);
  }
}

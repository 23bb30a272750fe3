import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { restoreRights } from '../../adapters/postgres/owners';
import { connectionArgs, runPgTool } from '../../adapters/postgres/pg-tools';
import { FailureType } from '../../common/failure-types';
import type { BackupMethod } from '../../common/procedure-types';
import type { DumpTools } from './dump-method';

/**
 * The pre-flight's proof that the backup can be taken and undone by the worker's login, run while
 * the nodes still serve: a restore that fails behind the maintenance page leaves the cluster down
 * until a person comes. Read-only.
 */

/**
 * Refuses (RestoreNotPossible) a login that could not give the restored database and its objects
 * back to their owners, or could not create the database a pg_dump restore loads into. Either
 * method needs the first: setting the current database aside is its owner's right.
 */
export async function ensureRestorable(pool: Pool, database: string, method: BackupMethod): Promise<void> {
  const rights = await restoreRights(pool);
  const foreign = rights.owners.filter((grant) => !grant.may).map((grant) => grant.owner);
  const problems = [
    ...(foreign.length > 0
      ? [`may not act as ${foreign.join(', ')} (owner of ${foreign.includes(rights.databaseOwner) ? `${database} or ` : ''}objects in it), so a restore could not give them back: GRANT ${foreign.join(', ')} TO ${rights.login}`]
      : []),
    ...(method === 'pg_dump' && !rights.createdb ? [`may not create databases, which a pg_dump restore does: ALTER ROLE ${rights.login} CREATEDB`] : []),
  ];
  if (problems.length === 0) return;
  throw ApplicationFailure.nonRetryable(
    `the worker's login ${rights.login} could not restore ${database} (owned by ${rights.databaseOwner}): it ${problems.join('; and it ')}; nothing was touched`,
    FailureType.RestoreNotPossible,
    { login: rights.login, databaseOwner: rights.databaseOwner, actAsMissing: foreign, createdb: rights.createdb },
  );
}

/**
 * Runs `pg_dump --schema-only` against the server as the backup will (same program, login, TLS
 * trust): a wrong pgBin, a client older than the server, a certificate libpq refuses or a table
 * the login may not read fail here instead of at the backup. The output is thrown away.
 */
export async function ensureDumpable(tools: DumpTools): Promise<void> {
  const { login } = tools;
  try {
    await runPgTool(
      { program: 'pg_dump', args: ['--schema-only', '--file=/dev/null', ...connectionArgs(login), '-d', login.database], login },
      tools.place,
      FailureType.BackupFailed,
      tools.hooks,
    );
  } catch (error) {
    if (!(error instanceof ApplicationFailure)) throw error;
    throw ApplicationFailure.create({
      message: `pre-flight: pg_dump --schema-only of ${login.database} failed, so the backup would: ${error.message}`,
      type: error.type ?? FailureType.BackupFailed,
      nonRetryable: error.nonRetryable === true,
      details: (error.details ?? []) as unknown[],
    });
  }
}

import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';

/**
 * The one answer to "which PostgreSQL error will a retry not cure", used for every query and
 * DDL statement this project sends:
 * - class 28 (invalid authorization: wrong password, no pg_hba entry), class 3D (invalid catalog
 *   name: the database does not exist) and 42501 (insufficient privilege, e.g. no CREATEDB): the
 *   server will answer the same until a person changes the configuration or the grants.
 * - NOT the rest of class 42. 42P01 (undefined table) and 42703 (undefined column) are what a read
 *   sees while a node is installing or migrating NocoBase's tables (the tables appear only at the
 *   end of an install, a migration renames columns), and 42P04 (duplicate database) is what a DDL
 *   sees when an earlier attempt of the same activity, still running after a heartbeat timeout,
 *   created the clone first: the retry then finds and adopts it. A retry cures those; refusing
 *   them for good would fail an upgrade on a race. A statement of ours that is simply wrong (42601
 *   syntax error) is retried to the policy's limit, which costs only time.
 * Before this was one place, the DDL path treated all of class 42 as permanent.
 */
const PERMANENT_SQLSTATE = /^(28|3D|42501)/;

export function sqlState(error: unknown): string {
  return (error as { code?: unknown } | null)?.code?.toString() ?? '';
}

export function isPermanentSqlError(error: unknown): boolean {
  return PERMANENT_SQLSTATE.test(sqlState(error));
}

function classified(message: string, type: FailureType, error: unknown): ApplicationFailure {
  return isPermanentSqlError(error) ? ApplicationFailure.nonRetryable(message, type) : ApplicationFailure.retryable(message, type);
}

/** A driver error on `database` as DatabaseUnreachable; an ApplicationFailure passes through unchanged. */
export function databaseUnreachable(server: { host: string; port: number }, database: string, error: unknown): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  return classified(`database ${database} at ${server.host}:${server.port} is not usable: ${(error as Error).message}`, FailureType.DatabaseUnreachable, error);
}

/** Runs `work`, turning an SQL error into a failure of `type` that names its SQLSTATE. */
export async function withSqlFailure<T>(type: FailureType, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApplicationFailure) throw error;
    const code = sqlState(error);
    throw classified(`${(error as Error).message}${code ? ` (SQLSTATE ${code})` : ''}`, type, error);
  }
}

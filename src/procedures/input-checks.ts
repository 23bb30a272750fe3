import { ApplicationFailure } from '@temporalio/common';
import { CLUSTER_NAME } from '../common/cluster-name';
import { FailureType } from '../common/failure-types';

/** `force: { "reason": "..." }` lets a procedure start on a blackout day; the reason is recorded. */
export interface ForceInput {
  reason: string;
}

/** The keys every procedure's input may carry besides its own. */
export interface CommonInput {
  cluster: string;
  /** Return the plan and change nothing. */
  dryRun?: boolean;
  /** Start on a blackout day anyway; the reason is recorded. */
  force?: ForceInput;
  /** Who starts the run (the wrappers and schedules fill it in): under `twoPersonRule` they cannot approve it. */
  startedBy?: string;
}

export interface CheckedCommon {
  cluster: string;
  dryRun: boolean;
  force: ForceInput | undefined;
  startedBy?: string | undefined;
}

const COMMON_KEYS = ['cluster', 'dryRun', 'force', 'startedBy'] as const;

/**
 * Checks the shape of a procedure's input before anything runs, so a typo in a CLI or UI start
 * fails with a clear message and touches nothing. Unknown keys are refused (a misspelt option must
 * not silently fall back to a default), and the common keys are type-checked: `"dryRun": "true"`
 * is refused rather than taken for "not a dry run", which would run the real procedure.
 * Returns the input as given, with the common keys checked.
 */
export function checkInput<T extends CommonInput>(input: unknown, ownKeys: readonly string[]): T & CheckedCommon {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidInput(`expected a JSON object such as {"cluster": "demo"}, got ${JSON.stringify(input)}`);
  }
  const allowed = [...COMMON_KEYS.slice(0, 1), ...ownKeys, ...COMMON_KEYS.slice(1)];
  const unknown = Object.keys(input).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw invalidInput(`unknown input key(s) ${unknown.join(', ')}; expected only ${allowed.join(', ')}`);
  const { cluster, dryRun } = input as { cluster?: unknown; dryRun?: unknown };
  if (typeof cluster !== 'string' || !CLUSTER_NAME.test(cluster)) {
    throw invalidInput(`"cluster" must be a cluster name from the worker's configuration, got ${JSON.stringify(cluster)}`);
  }
  if (dryRun !== undefined && typeof dryRun !== 'boolean') {
    throw invalidInput(`"dryRun" must be true or false, got ${JSON.stringify(dryRun)}`);
  }
  const { startedBy } = input as CommonInput;
  if (startedBy !== undefined && (typeof startedBy !== 'string' || startedBy.trim() === '')) {
    throw invalidInput(`"startedBy" must name who starts the run, got ${JSON.stringify(startedBy)}`);
  }
  return { ...(input as T), cluster, dryRun: dryRun === true, force: checkForce((input as CommonInput).force) };
}

function checkForce(force: unknown): ForceInput | undefined {
  if (force === undefined) return undefined;
  const reason = (force as { reason?: unknown } | null)?.reason;
  if (typeof force !== 'object' || force === null || typeof reason !== 'string' || reason.trim() === '' || Object.keys(force).length !== 1) {
    throw invalidInput('"force" must be {"reason": "<why this cannot wait>"}');
  }
  return { reason };
}

/** A permanent refusal of the input: nothing was touched, retrying cannot help. */
export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.InvalidInput);
}

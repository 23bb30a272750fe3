import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import { procedureWorkflowId } from '../common/task-queue';

const CLUSTER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Checks the shape of a procedure's input before anything runs, so a typo in a CLI or UI start
 * fails with a clear message and touches nothing. Unknown keys are refused: a misspelt option
 * must not silently fall back to a default.
 */
export function checkInput<T extends { cluster: string }>(input: unknown, allowedKeys: readonly string[]): T {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(`expected a JSON object such as {"cluster": "demo"}, got ${JSON.stringify(input)}`);
  }
  const unknown = Object.keys(input).filter((key) => !allowedKeys.includes(key));
  if (unknown.length > 0) throw invalid(`unknown input key(s) ${unknown.join(', ')}; expected only ${allowedKeys.join(', ')}`);
  const cluster = (input as { cluster?: unknown }).cluster;
  if (typeof cluster !== 'string' || !CLUSTER_NAME.test(cluster)) {
    throw invalid(`"cluster" must be a cluster name from the worker's configuration, got ${JSON.stringify(cluster)}`);
  }
  return input as T;
}

/**
 * Procedures on a cluster run under one workflow ID so Temporal itself refuses a second one while
 * the first runs. A start under another ID would lose that guarantee, so it is refused.
 */
export function checkWorkflowId(cluster: string): void {
  const expected = procedureWorkflowId(cluster);
  const actual = workflowInfo().workflowId;
  if (actual !== expected) {
    throw ApplicationFailure.nonRetryable(
      `start procedures on cluster "${cluster}" with workflow ID "${expected}" (got "${actual}"), so that Temporal refuses a second procedure on this cluster while one runs`,
      FailureType.InvalidWorkflowId,
    );
  }
}

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.InvalidInput);
}

/** `force: { "reason": "..." }` lets a procedure start on a blackout day; the reason is recorded. */
export interface ForceInput {
  reason: string;
}

export function checkForce(force: unknown): ForceInput | undefined {
  if (force === undefined) return undefined;
  const reason = (force as { reason?: unknown } | null)?.reason;
  if (typeof force !== 'object' || force === null || typeof reason !== 'string' || reason.trim() === '' || Object.keys(force).length !== 1) {
    throw invalid('"force" must be {"reason": "<why this cannot wait>"}');
  }
  return { reason };
}

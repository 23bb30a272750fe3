import { parseDuration } from '../common/duration';
import { invalidInput as invalid } from './input-checks';

/** What happens when nobody decides in time. */
export type TimeoutPolicy = 'rollback' | 'proceed' | 'wait';

/** The `approval` part of a procedure's input, as people type it. */
export interface ApprovalInput {
  timeout?: string;
  onTimeout?: TimeoutPolicy;
}

export interface ApprovalPolicy {
  /** undefined: wait forever. */
  timeoutMs: number | undefined;
  onTimeout: TimeoutPolicy;
}

export const DEFAULT_APPROVAL_TIMEOUT = '2h';

/** Checks `approval` ({ timeout: "2h", onTimeout: "rollback" } by default), refusing unknown keys. */
export function checkApprovalInput(approval: unknown): ApprovalPolicy {
  const value = approval ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('"approval" must be an object');
  const unknown = Object.keys(value).filter((key) => key !== 'timeout' && key !== 'onTimeout');
  if (unknown.length > 0) throw invalid(`unknown "approval" key(s) ${unknown.join(', ')}; expected timeout, onTimeout`);
  const { timeout, onTimeout = 'rollback' } = value as ApprovalInput;
  if (!['rollback', 'proceed', 'wait'].includes(onTimeout)) throw invalid(`"approval.onTimeout" must be rollback, proceed or wait, got ${JSON.stringify(onTimeout)}`);
  if (onTimeout === 'wait') return { timeoutMs: undefined, onTimeout };
  try {
    return { timeoutMs: parseDuration(timeout ?? DEFAULT_APPROVAL_TIMEOUT), onTimeout };
  } catch (error) {
    throw invalid(`"approval.timeout": ${(error as Error).message}`);
  }
}

/**
 * The log formats of every long-running process here (the worker, the approval page, the codec
 * server). `human`, the default, is what they always printed; `json` is one object per line for a
 * log shipper: `timestamp`, `level`, `message`, and on every line written on behalf of a procedure
 * its `cluster`, `procedure`, `workflowId` and `runId`, whatever wrote it (the workflow, one of its
 * activities, or the SDK about them), so one query finds a run's lines.
 */
export const LOG_FORMAT_ENV = 'NOCOBASE_MAINTENANCE_LOG_FORMAT';

export type LogFormat = 'human' | 'json';

export class LogFormatError extends Error {
  override name = 'LogFormatError';
}

/** The format from the environment: unset or empty is `human`; anything but `human`/`json` throws. */
export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env): LogFormat {
  const value = env[LOG_FORMAT_ENV]?.trim().toLowerCase();
  if (!value || value === 'human') return 'human';
  if (value === 'json') return 'json';
  throw new LogFormatError(`${LOG_FORMAT_ENV}=${env[LOG_FORMAT_ENV]}: expected json or human (the default)`);
}

/** One line to write: the SDK's `LogEntry` has this shape, and our own lines are built the same way. */
export interface LogRecord {
  level: string;
  message: string;
  /** Nanoseconds since the epoch, as the SDK stamps its entries; now when absent. */
  timestampNanos?: bigint;
  meta?: Record<string, unknown>;
}

// The SDK's activity attributes name the run `workflowRunId` and the procedure `workflowType`; the
// workflow's say `runId`. One spelling for every line, so a query does not need to know the writer.
// The task token is dropped: it is binary, long, and lets whoever holds it complete the activity.
const RENAMED: Record<string, string> = { workflowRunId: 'runId' };
const DROPPED = new Set(['taskToken']);

/** The record as one JSON line (no newline). Never throws: a field that cannot be written says so. */
export function jsonLogLine(record: LogRecord): string {
  const meta: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.meta ?? {})) {
    if (DROPPED.has(key) || value === undefined) continue;
    meta[RENAMED[key] ?? key] ??= value;
  }
  const procedure = meta.procedure ?? meta.workflowType;
  const { cluster, workflowId, runId } = meta;
  delete meta.procedure;
  const line = {
    timestamp: timestampOf(record.timestampNanos),
    level: record.level.toLowerCase(),
    message: record.message,
    ...(cluster !== undefined ? { cluster } : {}),
    ...(procedure !== undefined ? { procedure } : {}),
    ...(workflowId !== undefined ? { workflowId } : {}),
    ...(runId !== undefined ? { runId } : {}),
    ...meta,
  };
  try {
    return JSON.stringify(line, replacer());
  } catch (error) {
    return JSON.stringify({ timestamp: line.timestamp, level: line.level, message: line.message, logError: `fields not written: ${(error as Error).message}` });
  }
}

function timestampOf(nanos: bigint | undefined): string {
  const millis = nanos === undefined ? Date.now() : Number(nanos / 1_000_000n);
  return new Date(millis).toISOString();
}

/** Errors with their name, message and stack (JSON.stringify writes `{}`); bigints as strings; cycles cut. */
function replacer(): (key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return (_key, value) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) {
      const cause = (value as { cause?: unknown }).cause;
      return { name: value.name, message: value.message, ...(value.stack ? { stack: value.stack } : {}), ...(cause !== undefined ? { cause } : {}) };
    }
    if (value !== null && typeof value === 'object') {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
    }
    return value;
  };
}

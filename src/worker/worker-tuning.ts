import type { WorkerTuning } from './create-worker';

/** `NOCOBASE_MAINTENANCE_WORKER_TUNING='{"maxConcurrentActivityTaskExecutions":300}'`: limits over the SDK's defaults. */
export const TUNING_ENV = 'NOCOBASE_MAINTENANCE_WORKER_TUNING';

const NUMBERS = ['maxConcurrentActivityTaskExecutions', 'maxConcurrentWorkflowTaskExecutions', 'maxCachedWorkflows', 'workflowThreadPoolSize'] as const;

/**
 * The worker's concurrency and cache limits from the environment, for a worker that drives many
 * clusters at once (bench/fleet.ts shows what each changes). Unset: the SDK's defaults. A bad
 * value stops the worker at start, naming it.
 */
export function workerTuningFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerTuning | undefined {
  const raw = env[TUNING_ENV];
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${TUNING_ENV} must be a JSON object, got ${raw}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${TUNING_ENV} must be a JSON object, got ${raw}`);
  const tuning: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if ((NUMBERS as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < (key === 'maxCachedWorkflows' ? 0 : 1)) throw new Error(`${TUNING_ENV}: ${key} must be a positive integer, got ${JSON.stringify(value)}`);
    } else if (key === 'stickyQueueScheduleToStartTimeout') {
      if (typeof value !== 'string') throw new Error(`${TUNING_ENV}: ${key} must be a duration such as "5s"`);
    } else {
      throw new Error(`${TUNING_ENV}: unknown key ${key}; expected ${[...NUMBERS, 'stickyQueueScheduleToStartTimeout'].join(', ')}`);
    }
    tuning[key] = value;
  }
  return tuning as WorkerTuning;
}

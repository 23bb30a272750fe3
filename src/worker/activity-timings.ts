import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { appendFileSync } from 'node:fs';

/**
 * `NOCOBASE_MAINTENANCE_ACTIVITY_TIMINGS=<file>`: the worker appends one JSON line per activity
 * attempt it ran, ordinary or local, with its own start and end (epoch ms). Local activities leave
 * only a marker in the history, without their start, so this is how bench/orchestration-overhead.ts
 * (and an operator asking where a run's time went) sees them. Off unless set.
 */
export const ACTIVITY_TIMINGS_ENV = 'NOCOBASE_MAINTENANCE_ACTIVITY_TIMINGS';

export interface ActivityTiming {
  workflowId: string;
  runId: string;
  type: string;
  /** `input.node` when the activity works on one node. */
  node?: string;
  local: boolean;
  attempt: number;
  startedAt: number;
  endedAt: number;
  ok: boolean;
}

export function activityTimings(file: string): ActivityInterceptorsFactory {
  return (context: Context) => ({
    inbound: {
      async execute(input, next) {
        const startedAt = Date.now();
        let ok = false;
        try {
          const result: unknown = await next(input);
          ok = true;
          return result;
        } finally {
          const { info } = context;
          const node = (input.args[0] as { node?: unknown } | undefined)?.node;
          const timing: ActivityTiming = {
            workflowId: info.workflowExecution?.workflowId ?? '',
            runId: info.workflowExecution?.runId ?? '',
            type: info.activityType,
            ...(typeof node === 'string' ? { node } : {}),
            local: info.isLocal,
            attempt: info.attempt,
            startedAt,
            endedAt: Date.now(),
            ok,
          };
          // Best effort: a full disk must not fail the step it only describes.
          try {
            appendFileSync(file, `${JSON.stringify(timing)}\n`);
          } catch {
            // ignored
          }
        }
      },
    },
  });
}

/** The timing interceptor when the environment asks for it. */
export function activityTimingsFromEnv(env: NodeJS.ProcessEnv = process.env): ActivityInterceptorsFactory[] {
  const file = env[ACTIVITY_TIMINGS_ENV];
  return file ? [activityTimings(file)] : [];
}

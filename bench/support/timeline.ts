/**
 * A procedure run as a timeline read from its Temporal history: when it started and closed, every
 * activity attempt that was scheduled (with the node its input names, read through the project's
 * data converter since the stack encrypts payloads), and every signal and update. Times are the
 * server's event times, in epoch milliseconds. Local activities leave only a marker in the
 * history: they come from the worker's activity timings file (src/worker/activity-timings.ts),
 * with the worker's times (the same machine's clock).
 */
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { readFileSync } from 'node:fs';
import type { ActivityTiming } from '../../src/worker/activity-timings';
import { payloadCodecsFromEnv } from '../../src/client/data-converter';
import { decodeHistory } from '../../src/codec/decode-history';

const EventType = temporal.api.enums.v1.EventType;
type Payload = temporal.api.common.v1.IPayload;

export interface ActivityRun {
  type: string;
  /** `input.node` when the activity works on one node. */
  node?: string;
  scheduledAt: number;
  startedAt?: number;
  closedAt?: number;
  outcome: 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'open';
  attempt: number;
  /** Ran as a local activity (its times are the worker's: scheduled = started). */
  local?: boolean;
}

export interface Timeline {
  startedAt: number;
  closedAt?: number;
  activities: ActivityRun[];
  /** Signals and accepted updates, by name. */
  messages: { name: string; at: number }[];
  /** Workflow tasks: scheduled → completed (the workflow code's own turns, and their queueing). */
  workflowTasks: { scheduledAt: number; completedAt?: number }[];
}

function json(payload: Payload | null | undefined): unknown {
  if (!payload?.data) return undefined;
  try {
    return JSON.parse(Buffer.from(payload.data).toString('utf8'));
  } catch {
    return undefined;
  }
}

export async function readTimeline(client: Client, workflowId: string, runId?: string, timingsFile?: string): Promise<Timeline> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const history = await decodeHistory(await handle.fetchHistory(), payloadCodecsFromEnv());
  const timeline: Timeline = { startedAt: 0, activities: [], messages: [], workflowTasks: [] };
  const byScheduled = new Map<string, ActivityRun>();
  const tasks = new Map<string, Timeline['workflowTasks'][number]>();
  for (const event of history.events ?? []) {
    const at = tsToMs(event.eventTime);
    const id = String(event.eventId);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        timeline.startedAt = at;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        timeline.closedAt = at;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: {
        const task = { scheduledAt: at };
        tasks.set(id, task);
        timeline.workflowTasks.push(task);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
        const task = tasks.get(String(event.workflowTaskCompletedEventAttributes?.scheduledEventId));
        if (task) task.completedAt = at;
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const attributes = event.activityTaskScheduledEventAttributes;
        const input = json(attributes?.input?.payloads?.[0]) as { node?: unknown } | undefined;
        const activity: ActivityRun = { type: attributes?.activityType?.name ?? '?', scheduledAt: at, outcome: 'open', attempt: 1 };
        if (typeof input?.node === 'string') activity.node = input.node;
        byScheduled.set(id, activity);
        timeline.activities.push(activity);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const attributes = event.activityTaskStartedEventAttributes;
        const activity = byScheduled.get(String(attributes?.scheduledEventId));
        if (activity) {
          activity.startedAt = at;
          activity.attempt = attributes?.attempt ?? 1;
        }
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const scheduledEventId =
          event.activityTaskCompletedEventAttributes?.scheduledEventId ??
          event.activityTaskFailedEventAttributes?.scheduledEventId ??
          event.activityTaskTimedOutEventAttributes?.scheduledEventId ??
          event.activityTaskCanceledEventAttributes?.scheduledEventId;
        const activity = byScheduled.get(String(scheduledEventId));
        if (activity) {
          activity.closedAt = at;
          activity.outcome =
            event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
              ? 'completed'
              : event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
                ? 'failed'
                : event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT
                  ? 'timed-out'
                  : 'cancelled';
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        timeline.messages.push({ name: event.workflowExecutionSignaledEventAttributes?.signalName ?? '?', at });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        timeline.messages.push({ name: event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ?? '?', at });
        break;
      default:
        break;
    }
  }
  if (timingsFile) {
    const run = runId ?? (await handle.describe()).runId;
    timeline.activities.push(...localActivities(timingsFile, run));
    timeline.activities.sort((a, b) => a.scheduledAt - b.scheduledAt);
  }
  return timeline;
}

/** The run's local activity attempts, from the worker's timings file. */
function localActivities(timingsFile: string, runId: string): ActivityRun[] {
  let lines: string[];
  try {
    lines = readFileSync(timingsFile, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
  return lines
    .map((line) => JSON.parse(line) as ActivityTiming)
    .filter((timing) => timing.local && timing.runId === runId)
    .map((timing) => ({
      type: timing.type,
      ...(timing.node ? { node: timing.node } : {}),
      scheduledAt: timing.startedAt,
      startedAt: timing.startedAt,
      closedAt: timing.endedAt,
      outcome: timing.ok ? 'completed' : 'failed',
      attempt: timing.attempt,
      local: true,
    }));
}

/** An activity's own time: Started → Closed (the attempt that closed it). */
export function ownMs(activity: ActivityRun): number {
  return activity.startedAt !== undefined && activity.closedAt !== undefined ? activity.closedAt - activity.startedAt : 0;
}

export type Interval = readonly [number, number];

/** Total length of the union of intervals, each clipped to [from, to] (overlaps counted once). */
export function unionMs(intervals: Interval[], from = -Infinity, to = Infinity): number {
  const clipped = intervals
    .map(([start, end]) => [Math.max(start, from), Math.min(end, to)] as const)
    .filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let current: [number, number] | undefined;
  for (const [start, end] of clipped) {
    if (current && start <= current[1]) current[1] = Math.max(current[1], end);
    else {
      if (current) total += current[1] - current[0];
      current = [start, end];
    }
  }
  return total + (current ? current[1] - current[0] : 0);
}

/** The activities' own intervals (Started → Closed). */
export function activityIntervals(activities: ActivityRun[]): Interval[] {
  return activities.filter((activity) => activity.startedAt !== undefined && activity.closedAt !== undefined).map((activity) => [activity.startedAt!, activity.closedAt!] as const);
}

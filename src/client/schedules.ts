import { MONTHS, ScheduleOverlapPolicy, type CalendarSpec, type Client, type ScheduleDescription, type ScheduleSpec } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { daysOf } from '../common/blackout';
import { taskQueue } from './task-queue';
import type { ClusterConfig } from '../config/schema';
import { PROCEDURES, type ProcedureName } from '../procedures';
import { scheduledProcedure } from '../workflows/scheduled-procedure';

export interface MaintenanceWindow {
  cluster: string;
  procedure: ProcedureName;
  /** The procedure's input without `cluster`, e.g. { image: "...", approval: {...} }. */
  input: Record<string, unknown>;
  /** Standard cron ("0 2 * * SUN"), in the cluster's time zone unless `timeZone` says otherwise. */
  cron?: string;
  /** Or explicit calendar specs (Temporal's CalendarSpec). */
  calendars?: CalendarSpec[];
  timeZone?: string;
  /** How late a missed window may still start (after a server outage). */
  catchupWindow?: string;
  scheduleId?: string;
  note?: string;
  paused?: boolean;
}

export function defaultScheduleId(cluster: string, procedure: string): string {
  return `maintenance-${cluster}-${procedure}`;
}

/**
 * The schedule's skip calendars: every blackout day, all day long. Temporal matches every field of
 * a skip calendar, seconds included, so hour, minute and second must be wildcards.
 */
export function blackoutSkips(cluster: ClusterConfig): CalendarSpec[] {
  return cluster.blackout.flatMap(daysOf).map(({ year, month, day }) => ({
    year,
    month: MONTHS[month - 1]!,
    dayOfMonth: day,
    hour: '*',
    minute: '*',
    second: '*',
    comment: 'blackout',
  }));
}

export function windowSpec(window: MaintenanceWindow, cluster: ClusterConfig): ScheduleSpec {
  if (!window.cron && !window.calendars?.length) throw new Error('a maintenance window needs --cron or --calendar');
  return {
    ...(window.cron ? { cronExpressions: [window.cron] } : {}),
    ...(window.calendars?.length ? { calendars: window.calendars } : {}),
    skip: blackoutSkips(cluster),
    timezone: window.timeZone ?? cluster.timeZone,
  };
}

/**
 * Creates the schedule: it starts `scheduledProcedure`, which runs the procedure under the
 * cluster's procedure ID. Overlap SKIP: a window that comes while the last one still runs is
 * skipped, not queued.
 */
export async function createMaintenanceSchedule(client: Client, window: MaintenanceWindow, cluster: ClusterConfig): Promise<string> {
  const scheduleId = window.scheduleId ?? defaultScheduleId(window.cluster, window.procedure);
  const descriptor = PROCEDURES[window.procedure];
  const input = { ...window.input, cluster: window.cluster };
  // Checked now, as the procedure will check it: a typo fails here, not on Sunday at 02:00.
  descriptor.checkInput(input);
  await client.schedule.create({
    scheduleId,
    spec: windowSpec(window, cluster),
    action: {
      type: 'startWorkflow',
      workflowType: scheduledProcedure,
      taskQueue: taskQueue(),
      workflowId: `scheduled-${window.cluster}-${window.procedure}`,
      args: [{ procedure: window.procedure, input }],
      staticSummary: `Maintenance window: ${descriptor.summary(input)}`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: (window.catchupWindow ?? '1h') as Duration },
    state: { paused: window.paused ?? false, ...(window.note ? { note: window.note } : {}) },
  });
  return scheduleId;
}

/** The parts of a schedule an operator reads: spec, next and recent runs, state. */
export function summarizeSchedule(description: ScheduleDescription): Record<string, unknown> {
  return {
    scheduleId: description.scheduleId,
    paused: description.state.paused,
    note: description.state.note,
    timeZone: description.spec.timezone,
    skipDays: description.spec.skip?.length ?? 0,
    nextActionTimes: description.info.nextActionTimes.map((time) => time.toISOString()),
    recentActions: description.info.recentActions.map((action) => ({ at: action.takenAt.toISOString(), workflowId: action.action.workflow.workflowId })),
    actionsTaken: description.info.numActionsTaken,
  };
}

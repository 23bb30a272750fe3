import type { CalendarSpec } from '@temporalio/client';
import { MONTHS } from '@temporalio/client';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createMaintenanceSchedule } from '../../src/client/schedules';
import { localDate } from '../../src/common/blackout';
import type { ScheduledProcedureResult } from '../../src/workflows/scheduled-procedure';
import { e2eSuite } from '../support/e2e-suite';
import { stackConfig } from '../support/stack';

/** A calendar matching one second, `secondsAhead` from now, in UTC. */
function inSeconds(secondsAhead: number): { at: Date; calendar: CalendarSpec } {
  const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + secondsAhead * 1000);
  return {
    at,
    calendar: {
      year: at.getUTCFullYear(),
      month: MONTHS[at.getUTCMonth()]!,
      dayOfMonth: at.getUTCDate(),
      hour: at.getUTCHours(),
      minute: at.getUTCMinutes(),
      second: at.getUTCSeconds(),
    },
  };
}

describe('maintenance windows as Temporal Schedules, through the real worker process', () => {
  const created: string[] = [];
  // Registered before the suite's own hooks, so the schedules go while the client is still open.
  after(async () => {
    for (const id of created) await suite.client.schedule.getHandle(id).delete().catch(() => undefined);
  });
  const suite = e2eSuite({ startCluster: false });

  it('starts the procedure when its window comes, under the cluster procedure ID', async () => {
    const scheduleId = `it-window-${randomUUID().slice(0, 8)}`;
    created.push(scheduleId);
    const { calendar } = inSeconds(4);
    await createMaintenanceSchedule(suite.client, { cluster: 'standin', procedure: 'firstStart', input: { dryRun: true }, calendars: [calendar], timeZone: 'UTC', scheduleId }, stackConfig().clusters.standin!);
    const handle = suite.client.schedule.getHandle(scheduleId);
    let launched: string | undefined;
    for (let i = 0; i < 300 && !launched; i++) {
      launched = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!launched) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(launched, 'the schedule took its action');
    const result = (await suite.client.workflow.getHandle(launched).result()) as ScheduledProcedureResult;
    assert.equal(result.started, true);
    assert.equal(result.workflowId, 'maintenance-standin');
    assert.equal((result.result as { dryRun?: boolean }).dryRun, true);
    // What the UI's workflow list shows for the launcher and for the procedure it started.
    assert.equal(await suite.client.workflow.getHandle(launched).describe().then((d) => d.staticSummary()), 'Maintenance window: First start of standin (dry run)');
    const child = suite.client.workflow.getHandle(result.workflowId, result.runId);
    assert.equal(await child.describe().then((d) => d.staticSummary()), 'First start of standin (dry run), in a maintenance window');
  });

  it('does not start anything inside a blackout', async () => {
    const scheduleId = `it-blackout-${randomUUID().slice(0, 8)}`;
    created.push(scheduleId);
    const { at, calendar } = inSeconds(3);
    const tomorrow = localDate(new Date(at.getTime() + 86_400_000), 'UTC');
    const config = stackConfig((demo) => {
      demo.blackout = [{ from: localDate(at, 'UTC'), to: tomorrow, reason: 'freeze' }];
    });
    await createMaintenanceSchedule(suite.client, { cluster: 'standin', procedure: 'firstStart', input: { dryRun: true }, calendars: [calendar], timeZone: 'UTC', scheduleId }, config.clusters.standin!);
    const description = await suite.client.schedule.getHandle(scheduleId).describe();
    assert.ok(!description.info.nextActionTimes.some((time) => time.getTime() === at.getTime()), 'the window is skipped');
    await new Promise((resolve) => setTimeout(resolve, at.getTime() - Date.now() + 3_000));
    const later = await suite.client.schedule.getHandle(scheduleId).describe();
    assert.equal(later.info.numActionsTaken, 0);
    assert.deepEqual(later.info.recentActions, []);
  });
});

import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBlackoutActivities } from '../../src/activities/cluster/blackout';
import type { ActivityDeps } from '../../src/activities/deps';
import { blackoutAt, daysOf, localDate } from '../../src/common/blackout';
import { parseConfig } from '../../src/config/load';

const periods = [{ from: '2026-12-24', to: '2026-12-26', reason: 'holidays' }];

describe('blackout dates', () => {
  it('are judged in the cluster time zone, inclusive at both ends', () => {
    // 23:30 UTC on the 23rd is already the 24th in Berlin.
    const lateEvening = new Date('2026-12-23T23:30:00Z');
    assert.equal(localDate(lateEvening, 'Europe/Berlin'), '2026-12-24');
    assert.equal(blackoutAt(periods, lateEvening, 'UTC'), undefined);
    assert.equal(blackoutAt(periods, lateEvening, 'Europe/Berlin')?.reason, 'holidays');
    assert.equal(blackoutAt(periods, new Date('2026-12-26T12:00:00Z'), 'UTC')?.reason, 'holidays');
    assert.equal(blackoutAt(periods, new Date('2026-12-27T00:00:01Z'), 'UTC'), undefined);
  });

  it('expand into single days for the schedule skip calendars, across a month end', () => {
    assert.deepEqual(daysOf({ from: '2026-12-31', to: '2027-01-01', reason: 'x' }), [
      { year: 2026, month: 12, day: 31 },
      { year: 2027, month: 1, day: 1 },
    ]);
  });

  it("are read from the cluster's configuration by the pre-flight activity", async () => {
    const today = localDate(new Date(), 'UTC');
    const config = parseConfig(
      `clusters:
  c:
    timeZone: UTC
    blackout: [{ from: "${today}", to: "${today}", reason: "freeze" }]
    nodes: [{ name: n1, dockerHost: "unix:///d.sock", container: c1, healthUrl: "http://h/api/__health_check" }]
    database: { host: db, database: d, user: u, passwordEnv: P }
    loadBalancer: { runtimeApi: "unix:///h.sock", backend: b, maintenanceMap: /m.map }
    backup: { directory: /b }
`,
      'test.yaml',
    );
    const activities = createBlackoutActivities({ config } as unknown as ActivityDeps);
    const check = await new MockActivityEnvironment().run(activities.checkBlackout, { cluster: 'c' });
    assert.deepEqual(check, { today, timeZone: 'UTC', period: { from: today, to: today, reason: 'freeze' } });
    assert.throws(() => parseConfig('clusters:\n  c:\n    timeZone: Mars/Olympus\n', 'bad.yaml'), /timeZone: expected an IANA time zone/);
  });
});

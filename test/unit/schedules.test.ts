import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blackoutSkips, defaultScheduleId, windowSpec } from '../../src/client/schedules';
import type { ClusterConfig } from '../../src/config/schema';

const cluster = {
  timeZone: 'Europe/Berlin',
  blackout: [{ from: '2026-12-31', to: '2027-01-01', reason: 'new year' }],
} as unknown as ClusterConfig;

describe('maintenance window schedules', () => {
  it('skip every blackout day all day long, across a year end', () => {
    assert.deepEqual(blackoutSkips(cluster), [
      { year: 2026, month: 'DECEMBER', dayOfMonth: 31, hour: '*', minute: '*', second: '*', comment: 'blackout' },
      { year: 2027, month: 'JANUARY', dayOfMonth: 1, hour: '*', minute: '*', second: '*', comment: 'blackout' },
    ]);
  });

  it("use the cluster's time zone unless told otherwise, and need a cron or a calendar", () => {
    const spec = windowSpec({ cluster: 'prod', procedure: 'versionUpgrade', input: {}, cron: '0 2 * * SUN' }, cluster);
    assert.deepEqual(spec.cronExpressions, ['0 2 * * SUN']);
    assert.equal(spec.timezone, 'Europe/Berlin');
    assert.equal(spec.skip?.length, 2);
    assert.equal(windowSpec({ cluster: 'prod', procedure: 'versionUpgrade', input: {}, cron: '0 2 * * *', timeZone: 'UTC' }, cluster).timezone, 'UTC');
    assert.throws(() => windowSpec({ cluster: 'prod', procedure: 'versionUpgrade', input: {} }, cluster), /needs --cron or --calendar/);
    assert.equal(defaultScheduleId('prod', 'versionUpgrade'), 'maintenance-prod-versionUpgrade');
  });
});

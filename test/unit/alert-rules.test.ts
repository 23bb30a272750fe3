import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { METRIC } from '../../src/common/metrics';
import { readmeCommandsRunBy } from '../support/readme-commands';

const ROOT = join(__dirname, '..', '..');
const DIR = join(ROOT, 'deploy', 'prometheus');
const RULES = join(DIR, 'alerts.yml');
const TESTS = join(DIR, 'alerts.test.yml');

interface RuleFile { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] }
interface TestFile { tests: { name: string; alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }

/** promtool from Debian's prometheus package (the stack installs it). */
function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool could not run (Debian package prometheus; npm run stack:up installs it): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('alert rules (deploy/prometheus/alerts.yml)', () => {
  const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
  const alerts = rules.groups.flatMap((group) => group.rules).filter((rule) => rule.alert !== undefined);

  it('are valid Prometheus rules', () => {
    const { status, output } = promtool('check', 'rules', RULES);
    assert.equal(status, 0, output);
  });

  it('pass promtool test rules: each fires on the series it is for and stays silent on the others', () => {
    const { status, output } = promtool('test', 'rules', TESTS);
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS/);
  });

  it("runs as the README's Observability section says (the line CI runs)", () => {
    const lines = readmeCommandsRunBy('test/unit/alert-rules.test.ts');
    assert.deepEqual(lines, ['promtool test rules deploy/prometheus/alerts.test.yml']);
    const run = spawnSync('bash', ['-c', lines[0]!], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /SUCCESS/);
  });

  it('every alert is tested with series that fire it and at a time or with series where it must not fire', () => {
    const tests = (parse(readFileSync(TESTS, 'utf8')) as TestFile).tests.flatMap((test) => test.alert_rule_test);
    assert.deepEqual(alerts.map((rule) => rule.alert).sort(), [
      'NocobaseMaintenanceApprovalNearTimeout',
      'NocobaseMaintenancePageOverBudget',
      'NocobaseMaintenancePreflightFailing',
      'NocobaseMaintenanceRollbackBlocked',
      'NocobaseMaintenanceWorkerNotPolling',
    ]);
    for (const { alert } of alerts) {
      const mine = tests.filter((test) => test.alertname === alert);
      assert.ok(mine.some((test) => test.exp_alerts.length > 0), `${alert}: no test where it fires`);
      assert.ok(mine.some((test) => test.exp_alerts.length === 0), `${alert}: no evaluation where it must stay silent`);
    }
  });

  it('read only metrics the worker exports (a renamed metric would silence an alert)', () => {
    const exported = new Set(Object.values(METRIC).flatMap((name) => [name, `${name}_total`, `${name}_bucket`, `${name}_count`, `${name}_sum`]));
    const recorded = new Set(rules.groups.flatMap((group) => group.rules).flatMap((rule) => (rule.record ? [rule.record] : [])));
    for (const rule of alerts) {
      for (const name of rule.expr.match(/nocobase_maintenance_[a-z_]+/g) ?? []) {
        assert.ok(exported.has(name) || recorded.has(name), `${rule.alert} reads ${name}, which the worker does not export`);
      }
    }
  });
});

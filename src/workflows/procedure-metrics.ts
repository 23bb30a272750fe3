import { metricMeter } from '@temporalio/workflow';
import type { MetricTags } from '@temporalio/common';
import { METRIC } from '../common/metrics';

/**
 * The procedures' own Prometheus metrics, emitted through the SDK's workflow metric meter: a sink
 * call, not a command (the history is the same with or without them), and skipped while a
 * workflow task replays, so a replay (a worker restart, an evicted cache) never counts twice.
 * The names are in src/common/metrics.ts. The worker's Runtime exports them next to the SDK's own metrics (src/worker/telemetry.ts).
 *
 * Labels: `cluster` and `procedure` on every series (the SDK adds `namespace`, `task_queue` and
 * `workflow_type`), plus `outcome`, `failure_type`, `step`, `waiting_for` or `result` where they
 * apply: all bounded, never a run ID.
 *
 * A gauge lives in the worker process that set it: after a worker restart it is absent until the
 * run's next state change on a new workflow task (replayed tasks emit nothing).
 */
/** What a person is waited for: an approval decision, an operator for a blocked rollback, the end of manual in-app work. */
export type PersonWait = 'approval' | 'rollback' | 'maintenance-done';

export class ProcedureMetrics {
  private readonly tags: MetricTags;
  private currentStep: string | undefined;
  private readonly waitStarted = new Map<PersonWait, number>();
  private failingSince: number | undefined;

  constructor(procedure: string, cluster: string) {
    this.tags = { cluster, procedure };
  }

  /** Once per run, as it starts (the pre-flight counters start at 0 so that increase() sees a first failure). */
  started(): void {
    metricMeter.createCounter(METRIC.runsStarted, undefined, 'Procedure runs started').add(1, this.tags);
    const preflight = metricMeter.createCounter(METRIC.preflight, undefined, 'Pre-flight checks by result (passed, failed)');
    preflight.add(0, { ...this.tags, result: 'passed' });
    preflight.add(0, { ...this.tags, result: 'failed' });
  }

  /** The step now running is 1, the one before 0. */
  step(name: string): void {
    const gauge = metricMeter.createGauge(METRIC.step, 'int', undefined, 'The step a running procedure is at (1), the steps it left (0)');
    if (this.currentStep !== undefined && this.currentStep !== name) gauge.set(0, { ...this.tags, step: this.currentStep });
    this.currentStep = name;
    gauge.set(1, { ...this.tags, step: name });
  }

  preflight(passed: boolean): void {
    metricMeter.createCounter(METRIC.preflight, undefined, 'Pre-flight checks by result (passed, failed)').add(1, { ...this.tags, result: passed ? 'passed' : 'failed' });
  }

  /** A person is needed from now on (the gauge an alert fires on); for an approval, until when at most. */
  waitingForPerson(what: PersonWait, timeoutMs?: number): void {
    this.waitStarted.set(what, Date.now());
    this.waitGauge().set(1, { ...this.tags, waiting_for: what });
    if (what === 'rollback') metricMeter.createCounter(METRIC.rollbackBlocked, undefined, 'Times a rollback blocked, waiting for an operator').add(1, this.tags);
    if (what === 'approval') this.deadlineGauge().set(timeoutMs === undefined ? 0 : (Date.now() + timeoutMs) / 1000, this.tags);
  }

  /** The person answered (or the approval timed out): the gauge is 0 again and the wait is observed. */
  personAnswered(what: PersonWait): void {
    const since = this.waitStarted.get(what);
    if (since === undefined) return;
    this.waitStarted.delete(what);
    this.waitGauge().set(0, { ...this.tags, waiting_for: what });
    if (what === 'approval') this.deadlineGauge().set(0, this.tags);
    metricMeter.createHistogram(METRIC.humanWait, 'float', 's', 'Time a procedure waited for a person').record(seconds(Date.now() - since), { ...this.tags, waiting_for: what });
  }

  backup(durationMs: number, sizeBytes: number): void {
    metricMeter.createHistogram(METRIC.backup, 'float', 's', 'Database backup duration').record(seconds(durationMs), this.tags);
    metricMeter.createGauge(METRIC.backupSize, 'int', 'By', 'Size of the latest database backup').set(sizeBytes, this.tags);
  }

  /** The undo starts. */
  failing(): void {
    this.failingSince ??= Date.now();
  }

  /** The 503 window users saw, as the procedure measured it (see maintenanceWindowMs). */
  maintenancePage(windowMs: number): void {
    metricMeter.createHistogram(METRIC.maintenancePage, 'float', 's', 'How long users saw the 503 maintenance page').record(seconds(windowMs), this.tags);
    metricMeter.createGauge(METRIC.lastMaintenancePage, 'float', 's', 'The latest 503 window').set(seconds(windowMs), this.tags);
    metricMeter.createGauge(METRIC.lastMaintenancePageEnd, 'float', 's', 'When the latest 503 window ended (Unix time)').set(Date.now() / 1000, this.tags);
  }

  /**
   * The run ended: `outcome` as its result says (`upgraded`, `rolled-back`, `failed`, ...), with the
   * failure type where it failed. Every gauge of the run goes back to 0.
   */
  ended(outcome: string, failureType = ''): void {
    metricMeter.createCounter(METRIC.runsEnded, undefined, 'Procedure runs ended, by outcome and failure type').add(1, { ...this.tags, outcome, failure_type: failureType });
    if (this.failingSince !== undefined) {
      metricMeter.createHistogram(METRIC.rollback, 'float', 's', 'Time from a failure (or rejection) until the undo ended').record(seconds(Date.now() - this.failingSince), this.tags);
      this.failingSince = undefined;
    }
    for (const what of [...this.waitStarted.keys()]) this.personAnswered(what);
    if (this.currentStep !== undefined) metricMeter.createGauge(METRIC.step, 'int').set(0, { ...this.tags, step: this.currentStep });
  }

  private waitGauge() {
    return metricMeter.createGauge(METRIC.waitingForPerson, 'int', undefined, 'Whether a procedure is blocked waiting for a person (1) or not (0)');
  }

  private deadlineGauge() {
    return metricMeter.createGauge(METRIC.approvalDeadline, 'float', 's', 'When the awaited approval times out (Unix time), 0 when none is awaited or it has no timeout');
  }
}

function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}


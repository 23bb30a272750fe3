import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { taskQueue } from '../../src/client/task-queue';
import { LOG_FORMAT_ENV } from '../../src/logging/log-line';
import { versionUpgrade } from '../../src/workflows';
import { approveSignal, statusQuery } from '../../src/workflows/messages';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { stackEnv } from '../support/stack';

type Line = Record<string, unknown> & { timestamp: string; level: string; message: string };

/**
 * The worker's log as a shipper reads it: NOCOBASE_MAINTENANCE_LOG_FORMAT=json, the real worker
 * process, a real upgrade on the stand-in cluster; every stdout line must parse, and every line
 * about a procedure must say which cluster, procedure, workflow and run.
 */
describe('the worker\'s JSON log (NOCOBASE_MAINTENANCE_LOG_FORMAT=json)', () => {
  // startCluster: the stand-in is brought up by a firstStart on this worker, so its lines are in the log too.
  const suite = e2eSuite({ startCluster: true, workerEnv: { [LOG_FORMAT_ENV]: 'json' } });

  it('is one JSON object per stdout line, and every line about a procedure names its cluster, procedure, workflowId and runId', { timeout: 300_000 }, async () => {
    const handle = await suite.client.workflow.start(versionUpgrade, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2 }] });
    await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));
    await handle.signal(approveSignal, { by: 'alice' });
    assert.equal(((await handle.result()) as { outcome: string }).outcome, 'upgraded');
    const runId = handle.firstExecutionRunId;
    // The workflow's lines leave the sandbox after its task completed: the last may follow the result.
    await until('the run\'s "procedure ended" line', async () =>
      (suite.worker.stdout().split('\n').some((line) => line.includes('"procedure ended"') && line.includes(runId)) ? true : undefined));

    const raw = suite.worker.stdout().split('\n').filter((line) => line.trim() !== '');
    const lines = raw.map((line, index) => {
      try {
        return JSON.parse(line) as Line;
      } catch {
        return assert.fail(`stdout line ${index + 1} is not JSON: ${line}`);
      }
    });
    for (const line of lines) {
      assert.ok(typeof line.message === 'string' && ['trace', 'debug', 'info', 'warn', 'error'].includes(line.level), JSON.stringify(line));
      assert.ok(!Number.isNaN(Date.parse(line.timestamp)), `timestamp of ${JSON.stringify(line)}`);
    }
    // The worker's own start line is JSON too.
    assert.ok(lines.some((line) => line.level === 'info' && line.message.startsWith('worker polling task queue')));

    // Every line written on behalf of a workflow or an activity names the procedure fully.
    const procedureLines = lines.filter((line) => line.workflowId !== undefined || line.activityType !== undefined);
    for (const line of procedureLines) {
      assert.equal(line.cluster, 'standin', JSON.stringify(line));
      assert.ok(line.procedure === 'firstStart' || line.procedure === 'versionUpgrade', JSON.stringify(line));
      assert.equal(line.workflowId, workflowId, JSON.stringify(line));
      assert.equal(typeof line.runId, 'string', JSON.stringify(line));
    }

    // This upgrade's lines: the workflow's (start, each step, the end with its outcome) and its activities'.
    const upgrade = procedureLines.filter((line) => line.runId === runId);
    assert.ok(upgrade.every((line) => line.procedure === 'versionUpgrade'));
    const fromWorkflow = upgrade.filter((line) => line.activityType === undefined);
    assert.equal(fromWorkflow[0]?.message, 'procedure started');
    assert.deepEqual(fromWorkflow.filter((line) => line.message === 'step started').map((line) => line.step).slice(0, 2), ['preflight', 'maintenance-page']);
    const ended = fromWorkflow.filter((line) => line.message === 'procedure ended');
    assert.deepEqual(ended.map((line) => line.outcome), ['upgraded']);
    const fromActivities = upgrade.filter((line) => typeof line.activityType === 'string');
    assert.ok(fromActivities.some((line) => line.message === 'node container replaced'), `activity lines: ${JSON.stringify(fromActivities.map((line) => line.message))}`);
    // The stand-in's firstStart (before the test) ran on this worker too: a run of its own.
    assert.ok(procedureLines.some((line) => line.procedure === 'firstStart' && line.runId !== runId));
  });
});

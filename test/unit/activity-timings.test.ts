import type { Context } from '@temporalio/activity';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ACTIVITY_TIMINGS_ENV, activityTimings, activityTimingsFromEnv, type ActivityTiming } from '../../src/worker/activity-timings';

const dir = mkdtempSync(join(tmpdir(), 'activity-timings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function context(activityType: string, isLocal: boolean, attempt = 1): Context {
  return { info: { activityType, isLocal, attempt, workflowExecution: { workflowId: 'maintenance-demo', runId: 'run-1' } } } as unknown as Context;
}

const read = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as ActivityTiming);

describe('the worker\'s activity timings (for the overhead bench, and an operator asking where the time went)', () => {
  it('writes one line per attempt, ordinary or local, with its own start and end, its node, and whether it failed', async () => {
    const file = join(dir, 'timings.jsonl');
    const interceptor = activityTimings(file);
    const before = Date.now();
    const value = await interceptor(context('startNode', true)).inbound!.execute!({ args: [{ cluster: 'demo', node: 'node-2' }], headers: {} }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return 'started';
    });
    assert.equal(value, 'started');
    const failure = new Error('docker down');
    await assert.rejects(interceptor(context('stopNode', false, 2)).inbound!.execute!({ args: [{ cluster: 'demo' }], headers: {} }, () => Promise.reject(failure)), failure);

    const [started, stopped] = read(file);
    assert.deepEqual({ ...started, startedAt: 0, endedAt: 0 }, { workflowId: 'maintenance-demo', runId: 'run-1', type: 'startNode', node: 'node-2', local: true, attempt: 1, startedAt: 0, endedAt: 0, ok: true });
    assert.ok(started!.startedAt >= before && started!.endedAt - started!.startedAt >= 25, JSON.stringify(started));
    assert.deepEqual({ ...stopped, startedAt: 0, endedAt: 0 }, { workflowId: 'maintenance-demo', runId: 'run-1', type: 'stopNode', local: false, attempt: 2, startedAt: 0, endedAt: 0, ok: false });
  });

  it('is off unless the environment names a file', () => {
    assert.deepEqual(activityTimingsFromEnv({}), []);
    assert.equal(activityTimingsFromEnv({ [ACTIVITY_TIMINGS_ENV]: join(dir, 'x.jsonl') }).length, 1);
  });

  it('never fails the step it describes when the file cannot be written', async () => {
    const interceptor = activityTimings(join(dir, 'missing-directory', 'timings.jsonl'));
    assert.equal(await interceptor(context('describeCluster', true)).inbound!.execute!({ args: [{ cluster: 'demo' }], headers: {} }, async () => 'plan'), 'plan');
  });
});

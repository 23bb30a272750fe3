import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { statusQuery } from '../../src/workflows/messages';
import { STANDIN_WORKFLOW_ID, e2eSuite, until } from '../support/e2e-suite';
import { stackJaeger, tracesOf, type JaegerSpan, type JaegerTrace } from '../support/jaeger';
import { readmeCommandsRunBy } from '../support/readme-commands';
import { stackEnv } from '../support/stack';

/**
 * Traces as an operator reads them: the worker and the `npm run` scripts export over OTLP/HTTP
 * to the stack's Jaeger (scripts/stack/jaeger.sh), and this test reads the spans back through
 * Jaeger's HTTP query API. Service names are this run's own, so other runs' traces never count.
 */
const execFileAsync = promisify(execFile);
const REPO = path.resolve(__dirname, '..', '..');
const RUN = `${process.pid}-${Date.now().toString(36)}`;
const WORKER_SERVICE = `nm-test-worker-${RUN}`;
const CLIENT_SERVICE = `nm-test-cli-${RUN}`;
// Spans leave the processes in batches; a short delay keeps the test's polling short.
const OTLP = { OTEL_EXPORTER_OTLP_ENDPOINT: process.env.STACK_OTLP_ENDPOINT ?? '', OTEL_BSP_SCHEDULE_DELAY: '200' };

/** `npm run <script> -- <args>` as a person runs it, traced under the client's service name. */
async function npmRun(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('npm', ['run', '--silent', script, '--', ...args], {
    cwd: REPO, timeout: 300_000, env: { ...process.env, ...OTLP, OTEL_SERVICE_NAME: CLIENT_SERVICE },
  });
  return stdout;
}

function only(spans: JaegerSpan[], name: string): JaegerSpan {
  const found = spans.filter((span) => span.operationName === name);
  assert.equal(found.length, 1, `one ${name} span, found ${found.length} among ${[...new Set(spans.map((span) => span.operationName))].join(', ')}`);
  return found[0]!;
}

/** Whether `span` sits below `ancestor` in the trace. */
function descendsFrom(spans: JaegerSpan[], span: JaegerSpan, ancestor: JaegerSpan): boolean {
  const byId = new Map(spans.map((each) => [each.spanID, each]));
  for (let parent = span.parentSpanID; parent !== undefined; parent = byId.get(parent)?.parentSpanID) {
    if (parent === ancestor.spanID) return true;
  }
  return false;
}

const HANG_GUARD = { timeout: 300_000 };

describe('traces over OTLP, read back from the stack\'s Jaeger', () => {
  const suite = e2eSuite({ startCluster: true, workerEnv: { ...OTLP, OTEL_SERVICE_NAME: WORKER_SERVICE } });
  let trace: JaegerTrace;

  it('one trace shows an upgrade from the CLI\'s start through every activity to the decision', HANG_GUARD, async () => {
    stackJaeger();
    const started = await npmRun('upgrade', '--cluster', 'standin', '--image', stackEnv().STANDIN_IMAGE_V2, '--by', 'bob');
    const runId = /\(run ([0-9a-f-]+)\)/.exec(started)?.[1];
    assert.ok(runId, started);
    const handle = suite.client.workflow.getHandle(STANDIN_WORKFLOW_ID, runId);
    await until('the upgrade to wait for a decision', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));
    // Hours later, from another process: the decision joins the start's trace (src/tracing/procedure-trace.ts).
    await npmRun('approve', '--cluster', 'standin', '--by', 'alice');
    assert.equal(((await handle.result()) as { outcome: string }).outcome, 'upgraded');

    // What the run did, from its history: every activity it scheduled must show in the trace.
    const scheduled = new Set<string>();
    for (const event of (await handle.fetchHistory()).events ?? []) {
      const type = event.activityTaskScheduledEventAttributes?.activityType?.name;
      if (type) scheduled.add(type);
    }
    assert.ok(scheduled.size >= 5, `an upgrade runs several activities, the history has ${[...scheduled].join(', ')}`);

    // The run's spans arrive once it ended (RunWorkflow ends with it) and the worker's batch went out.
    const traces = await until('the whole trace in Jaeger', async () => {
      const traces = await tracesOf(CLIENT_SERVICE);
      const names = new Set(traces.flatMap((each) => each.spans.map((span) => span.operationName)));
      const complete = ['RunWorkflow:versionUpgrade', 'HandleUpdate:decide', ...[...scheduled].map((type) => `RunActivity:${type}`)].every((name) => names.has(name));
      return complete ? traces : undefined;
    }, 120_000);
    assert.equal(traces.length, 1, 'the start and the decision are one trace, not two');
    trace = traces[0]!;
    const { spans } = trace;
    assert.ok(spans.every((span) => span.traceID === trace.traceID));

    // The CLI's start is the root; the workflow runs under it, on the worker.
    const start = only(spans, 'StartWorkflow:versionUpgrade');
    assert.deepEqual([start.parentSpanID, start.service], [undefined, CLIENT_SERVICE]);
    const run = only(spans, 'RunWorkflow:versionUpgrade');
    assert.deepEqual([run.parentSpanID, run.service], [start.spanID, WORKER_SERVICE]);
    assert.equal(run.tags.runId, runId);

    // Each step's activity: scheduled by the workflow (StartActivity), run on the worker (RunActivity) below it.
    for (const type of scheduled) {
      const schedules = spans.filter((span) => span.operationName === `StartActivity:${type}`);
      assert.ok(schedules.length > 0, `no StartActivity:${type}`);
      for (const schedule of schedules) assert.ok(descendsFrom(spans, schedule, run), `StartActivity:${type} is not below RunWorkflow`);
      const runs = spans.filter((span) => span.operationName === `RunActivity:${type}`);
      assert.ok(runs.length > 0, `no RunActivity:${type}`);
      for (const attempt of runs) {
        assert.ok(schedules.some((schedule) => schedule.spanID === attempt.parentSpanID), `RunActivity:${type} is not below its StartActivity`);
        assert.equal(attempt.service, WORKER_SERVICE);
      }
    }

    // The decision: the CLI's update under the start, handled by the workflow under the update.
    const decide = only(spans, 'StartWorkflowUpdate:decide');
    assert.deepEqual([decide.parentSpanID, decide.service], [start.spanID, CLIENT_SERVICE]);
    const handled = only(spans, 'HandleUpdate:decide');
    assert.deepEqual([handled.parentSpanID, handled.service], [decide.spanID, WORKER_SERVICE]);
  });

  it("runs the README's trace read-back against this Jaeger: it returns that trace", async () => {
    assert.ok(trace, 'the test before found the trace');
    const lines = readmeCommandsRunBy('test/e2e/traces.test.ts');
    assert.equal(lines.length, 1, `the README's traces block: ${JSON.stringify(lines)}`);
    // As a reader runs it after `source .stack/env`, for this run's client service.
    const { stdout } = await execFileAsync('bash', ['-c', lines[0]!.replaceAll('nocobase-maintenance-cli', CLIENT_SERVICE)], { env: process.env });
    const answer = JSON.parse(stdout) as { data: { traceID: string; spans: { operationName: string }[] }[] };
    assert.deepEqual(answer.data.map((each) => each.traceID), [trace.traceID]);
    assert.ok(answer.data[0]!.spans.some((span) => span.operationName === 'RunWorkflow:versionUpgrade'));
  });
});

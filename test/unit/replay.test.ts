import type { temporal } from '@temporalio/proto';
import { defaultPayloadConverter } from '@temporalio/common';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Resource } from '@opentelemetry/resources';
import { bundleWorkflowCode, Worker, type InjectedSinks, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { dataConverterFromEnv } from '../../src/client/data-converter';
import { bundleWorkflows } from '../../src/worker/workflow-bundle';
import { workerTracing } from '../../src/worker/tracing';
import { readHistory } from '../support/history-file';
import { quietRuntime } from '../support/quiet-runtime';
import { workflowBundle } from '../support/workflow-bundle';

// Runs in flight when a new worker is deployed replay their history on the new code: a change
// to a workflow's commands without patched() fails them with a nondeterminism error, and the
// cluster stays behind the maintenance page. Every history kept under test/histories/ must
// replay on the current code (see test/histories/README.md for where each comes from).

const HISTORIES = join(__dirname, '..', 'histories');

interface Recorded {
  name: string;
  workflowId: string;
  history: temporal.api.history.v1.IHistory;
}

/** A procedure checks it runs under `maintenance-<cluster>`: replay under the ID it was recorded with. */
function workflowIdOf(history: temporal.api.history.v1.IHistory): string {
  const [input] = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  const { cluster } = defaultPayloadConverter.fromPayload<{ cluster: string }>(input!);
  return `maintenance-${cluster}`;
}

function recordedHistories(): Recorded[] {
  return readdirSync(HISTORIES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((folder) =>
      readdirSync(join(HISTORIES, folder.name))
        .filter((file) => file.endsWith('.json'))
        .map((file) => {
          const history = readHistory(join(HISTORIES, folder.name, file));
          return { name: `${folder.name}/${file}`, workflowId: workflowIdOf(history), history };
        }),
    );
}

async function replay(bundle: WorkflowBundleWithSourceMap, histories: Recorded[], sinks?: InjectedSinks<never>): Promise<Map<string, Error | undefined>> {
  const outcomes = new Map<string, Error | undefined>();
  // With the stack's codec keys in the environment, as the worker replays: plain histories pass through the codec.
  const dataConverter = dataConverterFromEnv();
  const options = { workflowBundle: bundle, replayName: 'replay-test', ...(dataConverter ? { dataConverter } : {}), ...(sinks ? { sinks } : {}) };
  const results = Worker.runReplayHistories(options, histories.map(({ workflowId, history }) => ({ workflowId, history })));
  // Results come back in the order the histories went in. Many histories share a workflow ID
  // (every run on a cluster is `maintenance-<cluster>`), so the ID cannot say which one a result is.
  let index = 0;
  for await (const result of results) {
    const recorded = histories[index++];
    assert.equal(result.workflowId, recorded?.workflowId, 'replay results out of order');
    outcomes.set(recorded!.name, result.error);
  }
  assert.equal(outcomes.size, histories.length, 'every history replayed');
  return outcomes;
}

describe('recorded histories', () => {
  before(() => quietRuntime());

  it('replay on the current workflow code, every procedure', async () => {
    const histories = recordedHistories();
    assert.ok(histories.length >= 4, `expected recorded histories of every procedure, found ${histories.map((entry) => entry.name).join(', ')}`);
    for (const procedure of ['first-start', 'version-upgrade', 'in-app-maintenance']) {
      assert.ok(histories.some((entry) => entry.name.includes(procedure)), `no recorded history of ${procedure}`);
    }
    const outcomes = await replay(await workflowBundle(), histories);
    for (const { name } of histories) assert.equal(outcomes.get(name), undefined, `${name} no longer replays: ${String(outcomes.get(name))}`);
  });

  it('replay with the tracing interceptors bundled (a worker that turns OTLP on finds its runs in flight), and export no span while replaying', async () => {
    const histories = recordedHistories();
    const spans = new InMemorySpanExporter();
    const { sinks } = workerTracing({ serviceName: 'replay-test', resource: new Resource({}), spanProcessor: new SimpleSpanProcessor(spans), shutdown: async () => undefined });
    const bundle = await bundleWorkflows({ tracing: true });
    assert.match(bundle.code, /OpenTelemetryInboundInterceptor/, 'the tracing interceptors are in the bundle');
    const outcomes = await replay(bundle, histories, sinks as InjectedSinks<never>);
    for (const { name } of histories) assert.equal(outcomes.get(name), undefined, `${name} no longer replays with tracing on: ${String(outcomes.get(name))}`);
    assert.deepEqual(spans.getFinishedSpans().map((span) => span.name), []);
  });

  it('fail to replay when a workflow\'s commands change without patched()', async () => {
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../support/workflows/unpatched-change'),
      logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (message) => console.error(message) },
    });
    const upgrades = recordedHistories().filter((entry) => entry.name.includes('version-upgrade'));
    const outcomes = await replay(bundle, upgrades);
    for (const { name } of upgrades) assert.ok(outcomes.get(name) instanceof DeterminismViolationError, `${name} replayed on a changed workflow: ${String(outcomes.get(name))}`);
  });
});

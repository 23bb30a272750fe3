import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dataConverterFromEnv } from '../../src/client/data-converter';
import { startUnitEnvironment } from '../support/unit-environment';
import type { SagaProbeInput } from '../support/workflows/saga-probe';

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
before(async () => {
  env = await startUnitEnvironment();
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../support/workflows/saga-probe'), logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (message) => console.error(message) } });
});
after(async () => {
  await env?.teardown();
});

async function compensate(input: SagaProbeInput): Promise<{ ran: string[]; outcomes: { step: string; ok: boolean; error?: string }[] }> {
  const taskQueue = `saga-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, dataConverter: dataConverterFromEnv() });
  return worker.runUntil(env.client.workflow.execute('sagaProbe', { taskQueue, workflowId: `saga-${randomUUID()}`, args: [input] }));
}

describe('the undo order', () => {
  it('runs an undo a later one needs first, instead of blocking it: a failure while the other nodes start still rolls back', async () => {
    // As a version upgrade pushes them: node-1 stopped in start-first-node, then, in
    // start-other-nodes, each other node's "put back" (needs every node stopped) and "stop".
    const { ran, outcomes } = await compensate({
      undos: [
        { step: 'restore data', restores: 'data', needs: ['stopped'] },
        { step: 'stop node-1', restores: 'stopped' },
        { step: 'put node-2 back', restores: 'images', needs: ['stopped'] },
        { step: 'stop node-2', restores: 'stopped' },
        { step: 'start old nodes', needs: ['images', 'data'] },
      ],
    });
    assert.deepEqual(outcomes.filter((outcome) => !outcome.ok), [], JSON.stringify(outcomes));
    assert.deepEqual(ran, ['stop node-2', 'stop node-1', 'put node-2 back', 'restore data', 'start old nodes']);
  });

  it('keeps newest first otherwise, running a needed undo just before the one that needs it', async () => {
    assert.deepEqual((await compensate({ undos: [{ step: 'x' }, { step: 'y' }, { step: 'z' }] })).ran, ['z', 'y', 'x']);
    assert.deepEqual((await compensate({ undos: [{ step: 'a', restores: 'stopped' }, { step: 'b', needs: ['stopped'] }, { step: 'c' }] })).ran, ['c', 'a', 'b']);
  });
});

import type { Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach } from 'node:test';
import { connectClient } from '../../src/client/connect';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { taskQueue } from '../../src/client/task-queue';
import { saveHistory } from './history-file';
import { resetDemo, resetStandin } from './stack';
import { startWorkerProcess, type WorkerProcess } from './worker-process';
import { firstStart } from '../../src/workflows';

export const STANDIN_WORKFLOW_ID = procedureWorkflowId('standin');
export const DEMO_WORKFLOW_ID = procedureWorkflowId('demo');

export interface E2eSuite {
  client: Client;
  worker: WorkerProcess;
  /** What runs before each test (with `once`, before the suite): for a test of a `once` suite that needs it again. */
  prepareCluster: () => Promise<void>;
}

/**
 * For an e2e suite: the real worker process and a client for the whole suite; before each test an
 * empty cluster (no procedure holding its ID), optionally brought up on v1 by firstStart; the
 * cluster emptied again at the end (with `once`, before the suite instead of each test). `cluster`: `standin` (the default, the stand-in test fixture)
 * or `demo` (real NocoBase). `workerEnv`: more environment for the worker process (its metrics address).
 */
export function e2eSuite(options: { startCluster: boolean; cluster?: 'standin' | 'demo'; once?: boolean; workerEnv?: NodeJS.ProcessEnv }): E2eSuite {
  const suite = {} as E2eSuite;
  const cluster = options.cluster ?? 'standin';
  const reset = cluster === 'demo' ? resetDemo : resetStandin;
  const workflowId = procedureWorkflowId(cluster);
  before(async () => {
    suite.worker = await startWorkerProcess({ ...process.env, ...options.workerEnv });
    suite.client = await connectClient();
  });
  after(async () => {
    await suite.worker?.stop();
    await suite.client?.connection.close();
    await reset();
  });
  // `once`: one empty (or started) cluster for the whole suite, each test leaving it as it found it.
  suite.prepareCluster = async () => {
    // A run left by a failed test goes first, and its activities with it: a load-balancer watch
    // still running would put its maintenance page back over the reset.
    const terminated = await suite.client.workflow.getHandle(workflowId).terminate(`e2e test needs the ${cluster} cluster`).then(() => true, () => false);
    if (terminated) await new Promise((resolve) => setTimeout(resolve, 10_000));
    await reset();
    if (options.startCluster) {
      await suite.client.workflow.execute(firstStart, { taskQueue: taskQueue(), workflowId, args: [{ cluster }] });
    }
  };
  (options.once ? before : beforeEach)(() => suite.prepareCluster());
  // Recording histories for test/histories/ (see its README): each test's procedure, once it ended.
  const record = process.env.NOCOBASE_MAINTENANCE_RECORD_HISTORIES;
  if (record) {
    afterEach(async (test) => {
      const name = `${cluster}-${test.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 60).replace(/-$/, '')}.json`;
      await saveHistory(suite.client, workflowId, join(record, name)).catch(() => false);
    });
  }
  return suite;
}

/** Polls until `probe` gives a value (errors count as "not yet": a worker may be restarting). */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { Activities } from '../../src/activities';
import { dataConverterFromEnv } from '../../src/client/data-converter';
import { SEARCH_ATTRIBUTES } from '../../src/common/search-attributes';
import { quietRuntime } from './quiet-runtime';
import { temporalBinary } from './temporal-binary';
import { workflowBundle } from './workflow-bundle';

/** A private Temporal dev server (the real one, on a random port) for workflow unit tests. */
export async function startUnitEnvironment(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    // With the stack's codec keys in the environment, unit tests run encrypted as the worker does.
    client: { dataConverter: dataConverterFromEnv() },
    server: {
      executable: { type: 'existing-path', path: temporalBinary() },
      searchAttributes: SEARCH_ATTRIBUTES,
      ip: '127.0.0.1',
    },
  });
}

/** Runs `body` with a worker on a fresh task queue whose activities are the given mocks. */
export async function withMockedWorker<T>(
  env: TestWorkflowEnvironment,
  activities: Partial<Activities>,
  body: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `unit-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    dataConverter: dataConverterFromEnv(),
    // As the real worker (src/worker/create-worker.ts): cancellation reaches a waiting activity fast.
    maxHeartbeatThrottleInterval: '1s',
  });
  return worker.runUntil(body(taskQueue));
}

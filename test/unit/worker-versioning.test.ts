import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createWorker } from '../../src/worker/create-worker';
import { buildDeps, type WorkerDeps } from '../../src/worker/deps';
import { BUILD_ID_ENV, DEPLOYMENT_ENV, deploymentVersionFromEnv, WorkerVersioningError } from '../../src/worker/worker-versioning';
import { temporalBinary } from '../support/temporal-binary';
import { quietRuntime } from '../support/quiet-runtime';
import { buildProbe, proceedSignal } from '../support/workflows/build-probe';

// The other half of "a run that waits for days survives a new release" (the first is patching,
// test/unit/replay.test.ts): with Worker Versioning a run stays on the build that started it, so
// the new build never replays it. Shown with the project's own createWorker on a real dev server,
// and the operator's own CLI command to switch builds.

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const { VERSIONING_BEHAVIOR_PINNED } = temporal.api.enums.v1.VersioningBehavior;

describe('the worker\'s versioning variables', () => {
  it('leave the worker unversioned when neither is set, and name both parts of the version when both are', () => {
    assert.equal(deploymentVersionFromEnv({}), undefined);
    assert.deepEqual(deploymentVersionFromEnv({ [DEPLOYMENT_ENV]: 'nocobase-maintenance', [BUILD_ID_ENV]: ' 1a2b3c ' }), {
      deploymentName: 'nocobase-maintenance',
      buildId: '1a2b3c',
    });
  });

  it('refuse half a version, naming the missing variable', () => {
    assert.throws(() => deploymentVersionFromEnv({ [DEPLOYMENT_ENV]: 'nocobase-maintenance' }), (error: Error) => {
      assert.ok(error instanceof WorkerVersioningError);
      assert.match(error.message, new RegExp(`${BUILD_ID_ENV} is not`));
      return true;
    });
    assert.throws(() => deploymentVersionFromEnv({ [BUILD_ID_ENV]: '1a2b3c', [DEPLOYMENT_ENV]: ' ' }), new RegExp(`${DEPLOYMENT_ENV} is not`));
  });

  it('stop the worker at start, before it connects, when only one is set', { timeout: 30_000 }, async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, [DEPLOYMENT_ENV]: 'nocobase-maintenance', TEMPORAL_ADDRESS: '127.0.0.1:1' };
    delete env[BUILD_ID_ENV];
    const main = join(__dirname, '..', '..', 'src', 'worker', 'main.ts');
    const failed = await run(process.execPath, ['--import', 'tsx', main], { env }).then(
      () => assert.fail('the worker started with half a version'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(failed.code, 78);
    assert.match(failed.stderr, new RegExp(`${BUILD_ID_ENV} is not`));
  });
});

describe('a worker deployed with a build ID', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let deps: WorkerDeps;
  /** Workers still polling when a test ends, stopped before the server goes (also after a failure). */
  const running = new Set<() => Promise<void>>();

  before(async () => {
    quietRuntime();
    [env, bundle] = await Promise.all([
      // The unit tests' dev server, with the drain check made fast: by default the server waits
      // minutes after a run closed before it calls a build drained.
      TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: temporalBinary() },
          ip: '127.0.0.1',
          extraArgs: [
            '--dynamic-config-value', 'matching.wv.VersionDrainageStatusVisibilityGracePeriod="1s"',
            '--dynamic-config-value', 'matching.wv.VersionDrainageStatusRefreshInterval="1s"',
          ],
        },
      }),
      bundleWorkflowCode({
        workflowsPath: require.resolve('../support/workflows/build-probe'),
        logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (message) => console.error(message) },
      }),
    ]);
    // The real deps with no cluster: createWorker builds every activity, none of them is called.
    deps = buildDeps({ clusters: {} });
  });

  after(async () => {
    await Promise.all([...running].map((stop) => stop()));
    await deps?.close();
    await env?.teardown();
  });

  /** The project's worker factory, as `npm run worker` calls it with the versioning variables set. */
  async function startWorker(taskQueue: string, deployment: WorkerDeploymentVersion): Promise<{ stop(): Promise<void> }> {
    const { worker, connection } = await createWorker({ endpoint: { address: env.address, namespace: 'default' }, deps, taskQueue, workflowBundle: bundle, deployment });
    const polling = worker.run();
    const stop = async () => {
      running.delete(stop);
      worker.shutdown();
      await polling;
      await connection.close();
    };
    running.add(stop);
    return { stop };
  }

  /** What the README tells the operator to run; retried until the new build's worker has polled. */
  async function setCurrentVersion({ deploymentName, buildId }: WorkerDeploymentVersion): Promise<void> {
    const args = ['worker', 'deployment', 'set-current-version', '--address', env.address, '--deployment-name', deploymentName, '--build-id', buildId, '--yes'];
    for (let attempt = 1; ; attempt++) {
      try {
        await run(temporalBinary(), args);
        return;
      } catch (error) {
        if (attempt >= 40) throw error;
        await sleep(250);
      }
    }
  }

  /** The operator's drain check: `describe-version`'s drainage status of a build. */
  async function drainageOf({ deploymentName, buildId }: WorkerDeploymentVersion): Promise<string | undefined> {
    const args = ['worker', 'deployment', 'describe-version', '--address', env.address, '--deployment-name', deploymentName, '--build-id', buildId, '--output', 'json'];
    const { stdout } = await run(temporalBinary(), args);
    return (JSON.parse(stdout) as { drainageInfo?: { drainageStatus?: string } }).drainageInfo?.drainageStatus;
  }

  async function completedTasks(handle: WorkflowHandle) {
    const { events } = await handle.fetchHistory();
    return (events ?? []).flatMap((event) => (event.workflowTaskCompletedEventAttributes ? [event.workflowTaskCompletedEventAttributes] : []));
  }

  it('keeps a run on the build that started it after a new build becomes current, and starts new runs on the new build', { timeout: 60_000 }, async () => {
    const taskQueue = `versioning-${randomUUID()}`;
    const deploymentName = `nocobase-maintenance-${randomUUID().slice(0, 8)}`;
    const buildA = { deploymentName, buildId: 'build-a' };
    const buildB = { deploymentName, buildId: 'build-b' };

    const workerA = await startWorker(taskQueue, buildA);
    await setCurrentVersion(buildA);
    const pinned = await env.client.workflow.start(buildProbe, { taskQueue, workflowId: `pinned-${randomUUID()}` });
    // In flight: its first task ran on build A, now it waits (as a procedure waits at verify).
    for (let waited = 0; (await completedTasks(pinned)).length === 0; waited += 100) {
      assert.ok(waited < 10_000, 'build A never ran the first workflow task');
      await sleep(100);
    }

    // The release: build B's worker starts and becomes current, build A's worker goes away.
    const workerB = await startWorker(taskQueue, buildB);
    await setCurrentVersion(buildB);
    await workerA.stop();
    await pinned.signal(proceedSignal);

    const fresh = await env.client.workflow.start(buildProbe, { taskQueue, workflowId: `fresh-${randomUUID()}` });
    await fresh.signal(proceedSignal);
    assert.equal(await fresh.result(), 'build-b', 'a run started after the release runs on the new build');
    // Build B has just served a run; the pinned run's signal has been waiting at least as long.
    await sleep(2_000);
    assert.equal((await pinned.describe()).status.name, 'RUNNING', 'the pinned run must not move to build B');
    assert.equal((await completedTasks(pinned)).length, 1, 'build B ran a task of a run pinned to build A');
    assert.equal(await drainageOf(buildA), 'draining', 'build A still has a pinned run: its workers must stay');

    // Build A back (its pinned runs have not drained): the run finishes where it started.
    const workerAAgain = await startWorker(taskQueue, buildA);
    assert.equal(await pinned.result(), 'build-a');
    await Promise.all([workerAAgain.stop(), workerB.stop()]);
    // Its last pinned run closed: what tells the operator build A's workers may go.
    for (let waited = 0; (await drainageOf(buildA)) !== 'drained'; waited += 500) {
      assert.ok(waited < 15_000, 'build A never drained after its last pinned run completed');
      await sleep(500);
    }
    const pinnedTasks = await completedTasks(pinned);
    assert.deepEqual(pinnedTasks.map((task) => [task.deploymentVersion?.buildId, task.versioningBehavior]), pinnedTasks.map(() => ['build-a', VERSIONING_BEHAVIOR_PINNED]));
    const freshTasks = await completedTasks(fresh);
    assert.deepEqual(freshTasks.map((task) => task.deploymentVersion?.buildId), freshTasks.map(() => 'build-b'));
  });
});

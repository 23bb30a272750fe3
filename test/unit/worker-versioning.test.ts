import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { dataConverterFromEnv } from '../../src/client/data-converter';
import { createWorker } from '../../src/worker/create-worker';
import { buildDeps, type WorkerDeps } from '../../src/worker/deps';
import { BUILD_ID_ENV, DEPLOYMENT_ENV, deploymentVersionFromEnv, WorkerVersioningError } from '../../src/worker/worker-versioning';
import { readmeCommandsRunBy, readmeTemporalCommands } from '../support/readme-commands';
import { temporalBinary } from '../support/temporal-binary';
import { quietRuntime } from '../support/quiet-runtime';
import { buildProbe, proceedSignal } from '../support/workflows/build-probe';

// The other half of "a run that waits for days survives a new release" (the first is patching,
// test/unit/replay.test.ts): with Worker Versioning a run stays on the build that started it, so
// the new build never replays it. Shown with the project's own createWorker on a private dev
// server, switching builds with the README's own command lines, run verbatim.

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const { VERSIONING_BEHAVIOR_PINNED } = temporal.api.enums.v1.VersioningBehavior;

/**
 * The README's release, its three lines (start build B's worker, make B current, watch build A
 * drain) and the two builds they name; the stack's docs test leaves them to this test.
 */
function readmeRelease() {
  const lines = readmeCommandsRunBy('test/unit/worker-versioning.test.ts');
  assert.equal(lines.length, 3, `the README's Worker Versioning block: ${JSON.stringify(lines)}`);
  assert.ok(readmeTemporalCommands().every((command) => !lines.includes(command)), 'the docs test on the stack would run them too');
  const [startB, setCurrentB, describeA] = lines as [string, string, string];
  const variables = Object.fromEntries([...startB.matchAll(/(\w+)=(\S+) /g)].map(([, name, value]) => [name!, value!]));
  const buildB = deploymentVersionFromEnv(variables);
  assert.ok(buildB, `no build in ${startB}`);
  const { deploymentName } = buildB;
  assert.match(setCurrentB, new RegExp(`^temporal worker deployment set-current-version --deployment-name ${deploymentName} --build-id ${buildB.buildId} `));
  assert.match(describeA, new RegExp(`^temporal worker deployment describe-version --deployment-name ${deploymentName} --build-id \\S+$`));
  const buildA = { deploymentName, buildId: describeA.split(' ').at(-1)! };
  assert.notEqual(buildA.buildId, buildB.buildId);
  return { startB, setCurrentB, describeA, buildA, buildB };
}

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
        client: { dataConverter: dataConverterFromEnv() }, // as createWorker's workers
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

  /** A README line as the operator runs it, with TEMPORAL_ADDRESS pointing at this dev server. */
  async function shell(command: string): Promise<string> {
    const temporalDir = dirname(temporalBinary());
    const { stdout } = await run('bash', ['-c', command], { env: { ...process.env, TEMPORAL_ADDRESS: env.address, PATH: `${temporalDir}:${process.env.PATH ?? ''}` } });
    return stdout;
  }

  /** `set-current-version` is refused until the build's worker has polled: retried, as the README says. */
  async function setCurrentVersion(command: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await shell(command);
        return;
      } catch (error) {
        if (attempt >= 40) throw error;
        await sleep(250);
      }
    }
  }

  /** The `DrainageStatus` line the operator reads in `describe-version`'s output. */
  async function drainage(describeVersion: string): Promise<string | undefined> {
    return /^\s*DrainageStatus\s+(\S+)/m.exec(await shell(describeVersion))?.[1];
  }

  async function completedTasks(handle: WorkflowHandle) {
    const { events } = await handle.fetchHistory();
    return (events ?? []).flatMap((event) => (event.workflowTaskCompletedEventAttributes ? [event.workflowTaskCompletedEventAttributes] : []));
  }

  it('keeps a run on the build that started it after a new build becomes current, and starts new runs on the new build', { timeout: 60_000 }, async () => {
    const taskQueue = `versioning-${randomUUID()}`;
    const { startB, setCurrentB, describeA, buildA, buildB } = readmeRelease();
    assert.match(startB, / npm run worker$/);

    // Before the release: build A is the current one.
    const workerA = await startWorker(taskQueue, buildA);
    await setCurrentVersion(setCurrentB.replace(`--build-id ${buildB.buildId}`, `--build-id ${buildA.buildId}`));
    const pinned = await env.client.workflow.start(buildProbe, { taskQueue, workflowId: `pinned-${randomUUID()}` });
    // In flight: its first task ran on build A, now it waits (as a procedure waits at verify).
    for (let waited = 0; (await completedTasks(pinned)).length === 0; waited += 100) {
      assert.ok(waited < 10_000, 'build A never ran the first workflow task');
      await sleep(100);
    }

    // The release: build B's worker starts and becomes current, build A's worker goes away.
    const workerB = await startWorker(taskQueue, buildB);
    await setCurrentVersion(setCurrentB);
    await workerA.stop();
    await pinned.signal(proceedSignal);

    const fresh = await env.client.workflow.start(buildProbe, { taskQueue, workflowId: `fresh-${randomUUID()}` });
    await fresh.signal(proceedSignal);
    assert.equal(await fresh.result(), buildB.buildId, 'a run started after the release runs on the new build');
    // Build B has just served a run; the pinned run's signal has been waiting at least as long.
    await sleep(2_000);
    assert.equal((await pinned.describe()).status.name, 'RUNNING', 'the pinned run must not move to build B');
    assert.equal((await completedTasks(pinned)).length, 1, 'build B ran a task of a run pinned to build A');
    assert.equal(await drainage(describeA), 'draining', 'build A still has a pinned run: its workers must stay');

    // Build A back (its pinned runs have not drained): the run finishes where it started.
    const workerAAgain = await startWorker(taskQueue, buildA);
    assert.equal(await pinned.result(), buildA.buildId);
    await Promise.all([workerAAgain.stop(), workerB.stop()]);
    // Its last pinned run closed: what tells the operator build A's workers may go.
    for (let waited = 0; (await drainage(describeA)) !== 'drained'; waited += 500) {
      assert.ok(waited < 15_000, 'build A never drained after its last pinned run completed');
      await sleep(500);
    }
    const pinnedTasks = await completedTasks(pinned);
    assert.deepEqual(pinnedTasks.map((task) => [task.deploymentVersion?.buildId, task.versioningBehavior]), pinnedTasks.map(() => [buildA.buildId, VERSIONING_BEHAVIOR_PINNED]));
    const freshTasks = await completedTasks(fresh);
    assert.deepEqual(freshTasks.map((task) => task.deploymentVersion?.buildId), freshTasks.map(() => buildB.buildId));
  });
});

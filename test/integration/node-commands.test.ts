import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { execInContainer } from '../../src/adapters/docker/exec';
import { FailureType } from '../../src/common/failure-types';
import { pluginState } from '../support/business-data';
import { standinActivities, runActivity, stackEnv } from '../support/stack';

const cluster = 'standin';

const plugin = (name: string) => pluginState(stackEnv().STANDIN_DATABASE_URL, name);

describe('node command, probe and drain activities against the real Docker engine, stand-in and HAProxy', () => {
  const suite = standinActivities();

  it('probes a stopped node as unhealthy without waiting, then a started one as healthy', async () => {
    const stopped = await runActivity(suite.activities.probeNode, { cluster, node: 'node-1' });
    assert.deepEqual([stopped.healthy, stopped.code], [false, 'ECONNREFUSED']);
    await runActivity(suite.activities.startNode, { cluster, node: 'node-1' });
    await runActivity(suite.activities.waitNodeReady, { cluster, node: 'node-1', requirePlugins: true });
    const started = await runActivity(suite.activities.probeNode, { cluster, node: 'node-1' });
    assert.deepEqual([started.healthy, started.code], [true, 'ok']);
  });

  it('runs `yarn pm` inside the node, which changes applicationPlugins, and returns its output', async () => {
    const added = await runActivity(suite.activities.runNodeCommand, { cluster, node: 'node-1', command: ['yarn', 'pm', 'add', 'map'] });
    assert.equal(added.exitCode, 0);
    assert.deepEqual(await plugin('map'), { enabled: false, installed: false });
    const enabled = await runActivity(suite.activities.runNodeCommand, { cluster, node: 'node-1', command: ['yarn', 'pm', 'enable', 'map'] });
    assert.match(enabled.output, /map/);
    assert.deepEqual(await plugin('map'), { enabled: true, installed: true });
  });

  it('fails as OperationFailed, not retryable, with the output, when the command fails', async () => {
    const error = await runActivity(suite.activities.runNodeCommand, { cluster, node: 'node-1', command: ['yarn', 'pm', 'enable', 'no-such-plugin'] }).catch(
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.type, FailureType.OperationFailed);
    assert.equal(error.nonRetryable, true);
    const [details] = error.details as [{ exitCode: number; output: string }];
    assert.equal(details.exitCode, 1);
    assert.match(details.output, /no-such-plugin/);
  });

  it('reports drained servers once they handle no request', async () => {
    await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'drain' });
    const drained = await runActivity(suite.activities.waitServersDrained, { cluster, nodes: ['node-1'] });
    assert.deepEqual(drained.map(({ server, sessions }) => [server, sessions]), [['node-1', 0]]);
    assert.match(drained[0]?.status ?? '', /DRAIN|MAINT/);
  });

  describe('a command that must not run twice', () => {
    const run = `it${process.pid}x${Date.now().toString(36)}`;
    const container = 'standin-node-1';
    const docker = () => suite.deps.docker(stackEnv().DOCKER_HOST);
    /** Node.js in the container (the stand-in image has no shell). */
    const inNode = (code: string) => execInContainer(docker(), container, ['node', '-e', code]);
    /** A command that appends a line to `file` per run, says where it runs, and lives `ms`. */
    const counted = (file: string, ms: number) => [
      'node',
      '-e',
      `const fs = require('fs'); fs.appendFileSync('/tmp/${run}-${file}', 'run\\n'); fs.writeFileSync('/tmp/${run}-${file}.pid', String(process.pid)); console.log('ran ${file}'); setTimeout(() => {}, ${ms});`,
    ];
    const runs = async (file: string) => (await inNode(`process.stdout.write(String(require('fs').readFileSync('/tmp/${run}-${file}', 'utf8').split('\\n').filter(Boolean).length))`)).output;
    /** Alive unless gone or a zombie (an orphan's zombie stays: the container's PID 1 does not reap it). */
    const pidAlive = async (pid: string) =>
      (await inNode(`let s = ''; try { s = require('fs').readFileSync('/proc/${pid}/stat', 'utf8'); } catch {} process.stdout.write(String(s !== '' && !/^\\S+ \\(.*\\) Z/.test(s)))`)).output === 'true';
    const pidOf = async (file: string) => (await inNode(`process.stdout.write(require('fs').readFileSync('/tmp/${run}-${file}.pid', 'utf8'))`)).output;
    const processAlive = async (file: string) => pidAlive(await pidOf(file));
    async function until(check: () => Promise<boolean>, what: string): Promise<void> {
      for (let look = 0; look < 100; look++) {
        if (await check()) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.fail(`timed out waiting until ${what}`);
    }
    const started = (file: string) => until(async () => (await inNode(`process.stdout.write(String(require('fs').existsSync('/tmp/${run}-${file}.pid')))`)).output === 'true', `${file} runs`);
    const environment = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

    before(async () => {
      await runActivity(suite.activities.startNode, { cluster, node: 'node-1' });
    });

    it('returns the first outcome to a retry with the same commandId, without running the command again', async () => {
      const input = { cluster, node: 'node-1', command: counted('once', 0), commandId: `${run}-once` };
      const first = await runActivity(suite.activities.runNodeCommand, input);
      const retried = await runActivity(suite.activities.runNodeCommand, input);
      assert.deepEqual(retried, first);
      assert.match(first.output, /ran once/);
      assert.equal(await runs('once'), '1');
      const other = await runActivity(suite.activities.runNodeCommand, { ...input, commandId: `${run}-once-other` });
      assert.equal(other.exitCode, 0);
      assert.equal(await runs('once'), '2', 'another commandId runs the command');
    });

    it('makes a retry that starts while the first run lives wait for that run instead of starting a second', async () => {
      const input = { cluster, node: 'node-1', command: counted('slow', 3_000), commandId: `${run}-slow` };
      const first = runActivity(suite.activities.runNodeCommand, input);
      await started('slow');
      const retried = await runActivity(suite.activities.runNodeCommand, input);
      assert.deepEqual(retried, await first);
      assert.equal(await runs('slow'), '1');
    });

    it('kills the command when the activity is cancelled, and a later attempt runs it again', async () => {
      const input = { cluster, node: 'node-1', command: counted('cancelled', 120_000), commandId: `${run}-cancelled` };
      const env = environment();
      const running = env.run(suite.activities.runNodeCommand, input);
      await started('cancelled');
      assert.equal(await processAlive('cancelled'), true);
      env.cancel();
      await assert.rejects(running, (error: unknown) => error instanceof CancelledFailure);
      assert.equal(await processAlive('cancelled'), false, 'the cancelled command is killed');
      await inNode(`require('fs').rmSync('/tmp/${run}-cancelled.pid')`);

      const again = runActivity(suite.activities.runNodeCommand, input);
      await started('cancelled');
      assert.equal(await runs('cancelled'), '2', 'a killed run leaves no outcome: the next attempt runs it');
      await inNode(`process.kill(Number(require('fs').readFileSync('/tmp/${run}-cancelled.pid', 'utf8')))`);
      const error = await again.catch((caught: unknown) => caught);
      assert.ok(error instanceof ApplicationFailure && error.type === FailureType.OperationFailed, String(error));
      assert.equal((error.details as [{ exitCode: number }])[0].exitCode, 143, 'killed by someone else: an outcome like any other');
    });

    it('leaves the command running when the worker shuts down, and the next attempt waits for it', async () => {
      const input = { cluster, node: 'node-1', command: counted('shutdown', 2_000), commandId: `${run}-shutdown` };
      const env = environment();
      const running = env.run(suite.activities.runNodeCommand, input);
      await started('shutdown');
      env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
      await assert.rejects(running, (error: unknown) => error instanceof CancelledFailure);
      assert.equal(await processAlive('shutdown'), true, 'a worker shutdown does not kill the command');
      const next = await runActivity(suite.activities.runNodeCommand, input);
      assert.match(next.output, /ran shutdown/);
      assert.equal(await runs('shutdown'), '1');
    });

    it('runs the command again when its first run died without an outcome, killing what it left', async () => {
      const input = { cluster, node: 'node-1', command: counted('orphan', 120_000), commandId: `${run}-orphan` };
      const env = environment();
      const running = env.run(suite.activities.runNodeCommand, input).catch((caught: unknown) => caught);
      await started('orphan');
      // The runner SIGKILLed (as by the OOM killer): its command lives on, nobody records its outcome.
      await inNode(`process.kill(JSON.parse(require('fs').readFileSync('/tmp/nocobase-maintenance/${run}-orphan.pid', 'utf8')).runner.pid, 'SIGKILL')`);
      assert.ok((await running) instanceof Error);
      assert.equal(await processAlive('orphan'), true);
      const orphan = await pidOf('orphan');

      const again = runActivity(suite.activities.runNodeCommand, { ...input, command: counted('orphan', 0) });
      assert.equal((await again).exitCode, 0);
      assert.equal(await runs('orphan'), '2');
      assert.equal(await pidAlive(orphan), false, 'the first run\'s command is killed before the second run');
    });
  });
});

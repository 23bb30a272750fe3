import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
});

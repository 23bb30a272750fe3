import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from 'pg';
import { createActivities } from '../../src/activities';
import { FailureType } from '../../src/common/failure-types';
import { standinActivities, runActivity, stackConfig, stackDeps, stackEnv } from '../support/stack';

const cluster = 'standin';

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(() => assert.fail('expected the activity to fail'), (caught: unknown) => caught);
  assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error;
}

describe('node and health activities against the real Docker engine and stand-in', () => {
  const suite = standinActivities();

  it('describes the cluster as Docker sees it', async () => {
    const plan = await runActivity(suite.activities.describeCluster, { cluster });
    assert.deepEqual(plan.nodes.map((node) => [node.name, node.container, node.running]), [
      ['node-1', 'standin-node-1', false],
      ['node-2', 'standin-node-2', false],
      ['node-3', 'standin-node-3', false],
    ]);
    assert.equal(plan.nodes[0]?.image, stackEnv().STANDIN_IMAGE_V1);
  });

  it('starts a node idempotently and waits until it is healthy with its plugins enabled', async () => {
    const first = await runActivity(suite.activities.startNode, { cluster, node: 'node-1' });
    assert.equal(first.running, true);
    const again = await runActivity(suite.activities.startNode, { cluster, node: 'node-1' });
    assert.equal(again.running, true, 'starting a running node succeeds');

    const ready = await runActivity(suite.activities.waitNodeReady, { cluster, node: 'node-1', requirePlugins: true });
    assert.equal(ready.version, '1.6.0');
    assert.ok(ready.plugins && ready.plugins.builtIn > 0);
    assert.equal(ready.plugins.builtInReady, ready.plugins.builtIn, 'every built-in plugin enabled when ready');
    const response = await fetch(stackConfig().clusters.standin!.nodes[0]!.healthUrl);
    assert.equal(response.status, 200);
  });

  it('stops a node idempotently', async () => {
    const stopped = await runActivity(suite.activities.stopNode, { cluster, node: 'node-1' });
    assert.equal(stopped.running, false);
    const again = await runActivity(suite.activities.stopNode, { cluster, node: 'node-1' });
    assert.equal(again.state, 'exited');
  });

  it('fails fast as NodeExited, with the log tail, when the node refuses to start', async () => {
    // A database recorded by a newer version makes NocoBase (and the stand-in) refuse to start.
    const db = new Client({ connectionString: stackEnv().STANDIN_DATABASE_URL });
    await db.connect();
    await db.query(`UPDATE "applicationVersion" SET value = '9.9.9'`);
    try {
      await runActivity(suite.activities.startNode, { cluster, node: 'node-2' });
      const failure = await failureOf(runActivity(suite.activities.waitNodeReady, { cluster, node: 'node-2', requirePlugins: false }));
      assert.equal(failure.type, FailureType.NodeExited);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /exit code 1/);
    } finally {
      await db.query(`UPDATE "applicationVersion" SET value = '1.6.0'`);
      await db.end();
    }
  });

  it('fails as NodeNotReady when a running node stays unhealthy past the configured timeout', async () => {
    const config = stackConfig((demo) => {
      demo.timeouts.nodeReady = 1_500;
      // A health URL nobody listens on: the container runs but never answers.
      demo.nodes[2]!.healthUrl = 'http://127.0.0.1:65533/api/__health_check';
    });
    const shortDeps = stackDeps(config);
    const short = createActivities(shortDeps);
    try {
      await runActivity(short.startNode, { cluster, node: 'node-3' });
      const failure = await failureOf(runActivity(short.waitNodeReady, { cluster, node: 'node-3', requirePlugins: false }));
      assert.equal(failure.type, FailureType.NodeNotReady);
      assert.match(failure.message, /ECONNREFUSED/);
    } finally {
      await runActivity(short.stopNode, { cluster, node: 'node-3' });
      await shortDeps.close();
    }
  });

  it('refuses an unknown cluster and a container that does not exist', async () => {
    assert.equal((await failureOf(runActivity(suite.activities.describeCluster, { cluster: 'nope' }))).type, FailureType.UnknownCluster);
    const config = stackConfig((demo) => {
      demo.nodes[0]!.container = 'no-such-container';
    });
    const missing = createActivities(stackDeps(config));
    const failure = await failureOf(runActivity(missing.describeCluster, { cluster }));
    assert.equal(failure.type, FailureType.Misconfigured);
    assert.match(failure.message, /no-such-container/);
  });
});

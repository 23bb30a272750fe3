import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { describe, it } from 'node:test';
import { Client } from 'pg';
import { readStandinEvents } from '../../scripts/stack/demo-cluster';
import { createActivities } from '../../src/activities';
import { FailureType } from '../../src/common/failure-types';
import { recreateStandinNode, standinActivities, standinOptions, runActivity, stackConfig, stackDeps, stackEnv } from '../support/stack';
import { dockerNodesOf } from '../../src/config/schema';

const cluster = 'standin';

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(() => assert.fail('expected the activity to fail'), (caught: unknown) => caught);
  assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error;
}

/** A stand-in for a node's HTTP side only, answering what `answer` says for each path. */
async function fakeNode(answer: (path: string) => { status: number; body: unknown }): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const { status, body } = answer(req.url ?? '/');
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/__health_check`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function withAdmin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: standinOptions().pgAdminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Recreates a stand-in container with extra settings (the suite's reset puts it back). */
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
    const response = await fetch(dockerNodesOf(stackConfig().clusters.standin!)[0]!.healthUrl);
    assert.equal(response.status, 200);
  });

  it('stops a node idempotently', async () => {
    const stopped = await runActivity(suite.activities.stopNode, { cluster, node: 'node-1' });
    assert.equal(stopped.running, false);
    const again = await runActivity(suite.activities.stopNode, { cluster, node: 'node-1' });
    assert.equal(again.state, 'exited');
  });

  it('fails at once as NodeFailed, with code and message, when the node refuses the database and stays up at 503 APP_ERROR', async () => {
    // A database recorded by a newer version makes NocoBase (and the stand-in) fail its start; it
    // stays up answering 503 APP_ERROR instead of exiting.
    const db = new Client({ connectionString: stackEnv().STANDIN_DATABASE_URL });
    await db.connect();
    await db.query(`UPDATE "applicationVersion" SET value = '9.9.9'`);
    try {
      await runActivity(suite.activities.startNode, { cluster, node: 'node-2' });
      const started = Date.now();
      const failure = await failureOf(runActivity(suite.activities.waitNodeReady, { cluster, node: 'node-2', requirePlugins: false }));
      assert.equal(failure.type, FailureType.NodeFailed);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /503 APP_ERROR: the database was written by 9\.9\.9/);
      assert.ok(Date.now() - started < 15_000, `failed after ${Date.now() - started} ms, not after timeouts.nodeReady`);
      const details = failure.details?.[0] as { code: string; message: string };
      assert.equal(details.code, 'APP_ERROR');
      assert.match(details.message, /newer than this application/);
      assert.equal((await runActivity(suite.activities.probeNode, { cluster, node: 'node-2' })).code, 'APP_ERROR', 'the node is still up');
    } finally {
      await runActivity(suite.activities.stopNode, { cluster, node: 'node-2' });
      await db.query(`UPDATE "applicationVersion" SET value = '1.6.0'`);
      await db.end();
    }
  });

  it('fails as NodeExited, with the log tail, when the container exits', async () => {
    // The node's port taken: the stand-in cannot listen and exits 1 (NocoBase does the same).
    const blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(standinOptions().nodePorts[2], '127.0.0.1', resolve));
    try {
      await runActivity(suite.activities.startNode, { cluster, node: 'node-3' });
      const failure = await failureOf(runActivity(suite.activities.waitNodeReady, { cluster, node: 'node-3', requirePlugins: false }));
      assert.equal(failure.type, FailureType.NodeExited);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /exit code 1[\s\S]*EADDRINUSE/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('waits through 503 progress codes, but fails as NodeFailed once another 503 lasts longer than nodeFailedGrace', async () => {
    let health: { status: number; body: unknown } = { status: 503, body: { error: { code: 'APP_COMMANDING', message: 'upgrading plugins...' } } };
    const fake = await fakeNode(() => health);
    const config = stackConfig((standin) => {
      standin.timeouts.nodeReady = 60_000;
      standin.timeouts.nodeFailedGrace = 1_000;
      dockerNodesOf(standin)[0]!.healthUrl = fake.url;
    });
    const shortDeps = stackDeps(config);
    const short = createActivities(shortDeps);
    try {
      await runActivity(short.startNode, { cluster, node: 'node-1' });
      const waiting = runActivity(short.waitNodeReady, { cluster, node: 'node-1', requirePlugins: false });
      const outcome = waiting.then(() => 'ready', (error: unknown) => error);
      // An upgrade in progress answers the same 503 for minutes: that is no failure.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      assert.equal(await Promise.race([outcome, 'still waiting']), 'still waiting');
      // A PostgreSQL error that does not change is.
      health = { status: 503, body: { error: { code: '28P01', message: 'password authentication failed for user "nocobase"' } } };
      const changed = Date.now();
      const failure = await failureOf(waiting);
      assert.equal(failure.type, FailureType.NodeFailed);
      assert.match(failure.message, /503 28P01: password authentication failed .*unchanged for \d+s/);
      const took = Date.now() - changed;
      assert.ok(took >= 1_000 && took < 5_000, `NodeFailed after ${took} ms`);
    } finally {
      await runActivity(short.stopNode, { cluster, node: 'node-1' });
      await shortDeps.close();
      await fake.close();
    }
  });

  it('is not ready while health is 200 but the node cannot read its database (app:getInfo fails)', async () => {
    // The node runs and its database records the expected version, but the node's own login stops
    // working: NocoBase's health stays 200 then; only app:getInfo shows it. The node gets a role of
    // its own for this, so no other node or test sharing the stack's role loses its connections.
    const role = 'standin_lost_login';
    const password = 'standin-lost-login';
    const config = stackConfig((standin) => {
      standin.timeouts.nodeReady = 2_000;
    });
    const shortDeps = stackDeps(config);
    const short = createActivities(shortDeps);
    await withAdmin(async (client) => {
      await client.query(`DROP ROLE IF EXISTS ${role}`);
      await client.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    });
    const db = new Client({ connectionString: stackEnv().STANDIN_DATABASE_URL });
    await db.connect();
    await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
    await db.end();
    await recreateStandinNode(1, { DB_USER: role, DB_PASSWORD: password });
    try {
      await runActivity(short.startNode, { cluster, node: 'node-1' });
      await runActivity(short.waitNodeReady, { cluster, node: 'node-1', requirePlugins: true, expectVersion: '1.6.0' });
      await withAdmin(async (client) => {
        await client.query(`ALTER ROLE ${role} NOLOGIN`);
        await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
      });
      assert.equal((await runActivity(short.probeNode, { cluster, node: 'node-1' })).healthy, true, 'health alone says 200');
      const failure = await failureOf(runActivity(short.waitNodeReady, { cluster, node: 'node-1', requirePlugins: true, expectVersion: '1.6.0' }));
      assert.equal(failure.type, FailureType.NodeNotReady);
      assert.match(failure.message, /"version":"1\.6\.0".*"appInfo":"HTTP 5\d\d/);
    } finally {
      await runActivity(short.stopNode, { cluster, node: 'node-1' });
      await shortDeps.close();
      await recreateStandinNode(1, {});
      await withAdmin(async (client) => {
        await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
        // DROP OWNED revokes the grants in the database it runs in; a dropped database has none.
        const grants = new Client({ connectionString: stackEnv().STANDIN_DATABASE_URL });
        await grants.connect();
        await grants.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`);
        await grants.end();
        await client.query(`DROP ROLE ${role}`);
      });
    }
  });

  it('stops a node that ignores SIGTERM: killed after timeouts.nodeStop, its process gone when the activity returns', async () => {
    await recreateStandinNode(3, { STANDIN_IGNORE_SIGTERM: 'true' });
    const config = stackConfig((standin) => {
      standin.timeouts.nodeStop = 2_000;
    });
    const shortDeps = stackDeps(config);
    const short = createActivities(shortDeps);
    try {
      await runActivity(short.startNode, { cluster, node: 'node-3' });
      await runActivity(short.waitNodeReady, { cluster, node: 'node-3', requirePlugins: false });
      const started = Date.now();
      const stopped = await runActivity(short.stopNode, { cluster, node: 'node-3' });
      const took = Date.now() - started;
      assert.equal(stopped.running, false);
      assert.ok(took >= 2_000 && took < 10_000, `stopped after ${took} ms`);
      const info = await shortDeps.docker(stackEnv().DOCKER_HOST).getContainer('standin-node-3').inspect();
      assert.deepEqual([info.State.Running, info.State.Pid, info.State.ExitCode], [false, 0, 137]);
      const events = readStandinEvents(standinOptions().eventsDir, 'standin-node-3').map((entry) => entry.event);
      assert.equal(events.at(-1), 'stop-ignored', 'SIGTERM arrived and was ignored; SIGKILL left no event');
    } finally {
      await shortDeps.close();
      await recreateStandinNode(3, {});
    }
  });

  it('fails as NodeNotReady when a running node stays unhealthy past the configured timeout', async () => {
    const config = stackConfig((demo) => {
      demo.timeouts.nodeReady = 1_500;
      // A health URL nobody listens on: the container runs but never answers.
      dockerNodesOf(demo)[2]!.healthUrl = 'http://127.0.0.1:65533/api/__health_check';
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
      dockerNodesOf(demo)[0]!.container = 'no-such-container';
    });
    const missing = createActivities(stackDeps(config));
    const failure = await failureOf(runActivity(missing.describeCluster, { cluster }));
    assert.equal(failure.type, FailureType.Misconfigured);
    assert.match(failure.message, /no-such-container/);
  });
});

import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { dockerFromHost } from '../../scripts/stack/docker-build';
import { ensureImage, nodeContainerSpec } from '../../scripts/stack/demo-cluster';
import { createActivities } from '../../src/activities';
import { FailureType } from '../../src/common/failure-types';
import { dockerNodesOf, type MaintenanceConfig } from '../../src/config/schema';
import type { WorkerDeps } from '../../src/worker/deps';
import { standinOptions, runActivity, stackConfig, stackDeps } from '../support/stack';

// A cluster of its own (container, port, database): the stand-in cluster belongs to other suites.
const CLUSTER = 'naming';
const CONTAINER = 'naming-node-1';
const PORT = 13611;
const DATABASE = 'nocobase_underscored';
const NAMING_ENV = { DB_DATABASE: DATABASE, DB_UNDERSCORED: 'true', DB_TABLE_PREFIX: 'nb_', DB_SCHEMA: 'nocobase' };

async function withAdmin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: standinOptions().pgAdminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function dropDatabase(): Promise<void> {
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`));
}

async function removeContainer(): Promise<void> {
  await dockerFromHost(standinOptions().dockerHost).getContainer(CONTAINER).remove({ force: true }).catch((error: unknown) => {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  });
  fs.rmSync(path.join(standinOptions().eventsDir, `${CONTAINER}.jsonl`), { force: true });
}

/** The stack's config plus a one-node cluster on our own container and database. */
function namingConfig(change: (config: MaintenanceConfig) => void = () => undefined): MaintenanceConfig {
  return stackConfig((demo, config) => {
    config.clusters[CLUSTER] = {
      ...structuredClone(demo),
      nodes: [{ name: 'node-1', dockerHost: standinOptions().dockerHost, container: CONTAINER, healthUrl: `http://127.0.0.1:${PORT}/api/__health_check` }],
      database: { ...structuredClone(demo.database), database: DATABASE },
    };
    change(config);
  });
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(() => assert.fail('expected the activity to fail'), (caught: unknown) => caught);
  assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error;
}

describe('NocoBase table naming read from the nodes (DB_UNDERSCORED, DB_TABLE_PREFIX, DB_SCHEMA)', () => {
  let deps: WorkerDeps;

  before(async () => {
    const options = standinOptions();
    await removeContainer();
    await dropDatabase();
    await withAdmin((client) => client.query(`CREATE DATABASE ${DATABASE} OWNER ${client.escapeIdentifier(options.dbUser)}`));
    const docker = dockerFromHost(options.dockerHost);
    await ensureImage(docker, options.image, () => undefined);
    await docker.createContainer(nodeContainerSpec(options, 1, { name: CONTAINER, port: PORT, env: NAMING_ENV }));
    await docker.getContainer(CONTAINER).start();
    deps = stackDeps(namingConfig());
  });

  after(async () => {
    await deps?.close();
    await removeContainer();
    await dropDatabase();
  });

  it('waits for the node with its plugins and version, reading the snake_case, prefixed tables', async () => {
    const activities = createActivities(deps);
    const ready = await runActivity(activities.waitNodeReady, { cluster: CLUSTER, node: 'node-1', requirePlugins: true, expectVersion: '1.6.0' });
    assert.equal(ready.version, '1.6.0');
    assert.equal(ready.appVersion, '1.6.0', 'the node reports its version through app:getInfo');
    assert.ok(ready.plugins && ready.plugins.builtIn > 0);
    assert.equal(ready.plugins.builtInReady, ready.plugins.builtIn);

    // The tables really are the underscored, prefixed ones in their own schema: the old names are absent.
    const tables = await deps.database(CLUSTER).query<{ name: string }>(
      `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables WHERE table_name LIKE '%application%' ORDER BY 1`);
    assert.deepEqual(tables.rows.map((row) => row.name), ['nocobase.nb_application_plugins', 'nocobase.nb_application_version']);
  });

  it('reports the recorded version and plugins from checkDatabase', async () => {
    const check = await runActivity(createActivities(deps).checkDatabase, { cluster: CLUSTER });
    assert.equal(check.version, '1.6.0');
    assert.ok(check.plugins && check.plugins.builtIn > 0);
    assert.match(check.serverVersion, /^\d+/);
  });

  it('keeps waiting, then fails as NodeNotReady, while the database records another version', async () => {
    const shortDeps = stackDeps(namingConfig((config) => {
      config.clusters[CLUSTER]!.timeouts.nodeReady = 1_000;
    }));
    try {
      const failure = await failureOf(runActivity(createActivities(shortDeps).waitNodeReady, {
        cluster: CLUSTER, node: 'node-1', requirePlugins: false, expectVersion: '1.7.0',
      }));
      assert.equal(failure.type, FailureType.NodeNotReady);
      assert.match(failure.message, /"version":"1\.6\.0"/);
    } finally {
      await shortDeps.close();
    }
  });

  it('requires the version the node reports as well, when app:getInfo answers', async () => {
    // A node that is healthy and whose database says 1.6.0, but that reports 1.5.0 itself: e.g. a
    // container still running the old image against an upgraded database.
    const liar = http.createServer((req, res) => {
      if (req.url === '/api/app:getInfo') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ data: { version: '1.5.0' } }));
      } else {
        res.writeHead(200).end('ok');
      }
    });
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    const port = (liar.address() as AddressInfo).port;
    const liarDeps = stackDeps(namingConfig((config) => {
      const cluster = config.clusters[CLUSTER]!;
      cluster.timeouts.nodeReady = 1_000;
      dockerNodesOf(cluster)[0]!.healthUrl = `http://127.0.0.1:${port}/api/__health_check`;
    }));
    try {
      const activities = createActivities(liarDeps);
      const failure = await failureOf(runActivity(activities.waitNodeReady, {
        cluster: CLUSTER, node: 'node-1', requirePlugins: true, expectVersion: '1.6.0',
      }));
      assert.equal(failure.type, FailureType.NodeNotReady);
      assert.match(failure.message, /"appVersion":"1\.5\.0"/);

      // Without an expected version the node is ready, and says what it runs.
      const ready = await runActivity(activities.waitNodeReady, { cluster: CLUSTER, node: 'node-1', requirePlugins: true });
      assert.equal(ready.version, '1.6.0');
      assert.equal(ready.appVersion, '1.5.0');
    } finally {
      await liarDeps.close();
      await new Promise((resolve) => liar.close(resolve));
    }
  });
});

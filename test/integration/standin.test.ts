// The NocoBase stand-in TEST FIXTURE against the real Docker engine, registry and PostgreSQL:
// proves the fixture behaves the way the maintenance procedures' tests rely on.
//
//   DOCKER_HOST=unix:///…/docker.sock REGISTRY=127.0.0.1:5000 PG_ADMIN_URL=postgres://… \
//     node --import tsx --test test/integration/standin.test.ts
//
// Optional: STANDIN_TEST_PORTS (three free host ports, default "13501 13502 13503").
// Uses its own cluster name, database and role (standin-test / standin_test), never the demo's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { Client } from 'pg';
import { buildAndPushImages, type StandinImages } from '../../scripts/stack/build-images';
import { dockerFromHost } from '../../scripts/stack/docker-build';
import {
  ensureImage, nodeContainerName, nodeContainerSpec, parsePorts, readStandinEvents, resetDemoCluster,
  type DemoClusterOptions, type StandinEvent,
} from '../../scripts/stack/demo-cluster';
import { maintenanceSpans, overlappingSpans } from '../support/standin-observer';

const TEST_CLUSTER = 'standin-test';
const quiet = () => undefined;

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set to run the stand-in integration test (see the header of this file)`);
  return value;
}

// Read at load time: a missing endpoint fails the whole file loudly instead of cancelling tests.
const dockerHost = requireEnv('DOCKER_HOST');
const registry = requireEnv('REGISTRY');
const pgAdminUrl = requireEnv('PG_ADMIN_URL');

let docker: Docker;
let images: StandinImages;
let opts: DemoClusterOptions;
let tmp: string;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

interface Health { status: number; code?: string; message?: string; node?: string | null }

async function health(port: number): Promise<Health> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/__health_check`);
    const text = await res.text();
    if (res.status === 200) return { status: 200, code: text, node: res.headers.get('x-standin-node') };
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    return { status: res.status, code: error.code, message: error.message, node: res.headers.get('x-standin-node') };
  } catch {
    return { status: 0, code: 'UNREACHABLE' };
  }
}

/** Polls until health is 200 and returns the distinct answers seen on the way, in order. */
async function watchUntilHealthy(port: number, timeoutMs = 20_000): Promise<string[]> {
  const seen: string[] = [];
  await waitFor(`health 200 on port ${port}`, async () => {
    const h = await health(port);
    const label = `${h.status} ${h.code}`;
    if (seen[seen.length - 1] !== label) seen.push(label);
    return h.status === 200 ? h : undefined;
  }, timeoutMs);
  return seen;
}

function port(index: number): number {
  const value = opts.nodePorts[index - 1];
  assert.ok(value, `port of node ${index}`);
  return value;
}

const events = (container: string): StandinEvent[] => readStandinEvents(opts.eventsDir, container);
const eventNames = (container: string): string[] => events(container).map((e) => e.event);
const waitForEvent = (container: string, event: string) =>
  waitFor(`${event} event of ${container}`, () => events(container).find((e) => e.event === event));

async function runOneOff(name: string, image: string, index: number, env: Record<string, string> = {}): Promise<Docker.Container> {
  await docker.getContainer(name).remove({ force: true }).catch(() => undefined);
  fs.rmSync(path.join(opts.eventsDir, `${name}.jsonl`), { force: true });
  await ensureImage(docker, image, quiet);
  const container = await docker.createContainer(nodeContainerSpec(opts, index, { name, image, env }));
  await container.start();
  return container;
}

async function query<R extends object>(sql: string, database = opts.dbName): Promise<R[]> {
  const client = new Client({ host: opts.dbHost, port: opts.dbPort, database, user: opts.dbUser, password: opts.dbPassword });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function snapshot(database = opts.dbName) {
  return {
    version: await query<{ value: string }>('SELECT value FROM "applicationVersion"', database),
    columns: await query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'demo_orders' ORDER BY ordinal_position", database),
    orders: await query<Record<string, unknown>>('SELECT * FROM demo_orders ORDER BY id', database),
    plugins: await query<Record<string, unknown>>('SELECT * FROM "applicationPlugins" ORDER BY id', database),
  };
}

async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: opts.pgAdminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Waits for 503 APP_ERROR and checks that the node then stays up, answering it (it does not exit). */
async function staysUpAtAppError(port: number, container: Docker.Container): Promise<Health> {
  const failed = await waitFor('503 APP_ERROR', async () => {
    const h = await health(port);
    return h.status === 503 && h.code === 'APP_ERROR' ? h : undefined;
  });
  await sleep(1_500);
  assert.equal((await container.inspect()).State.Running, true, 'a failed start keeps running');
  assert.deepEqual(await health(port), failed, 'and keeps answering the same 503');
  return failed;
}

const spansOf = (...containers: string[]) => maintenanceSpans(Object.fromEntries(containers.map((name) => [name, events(name)])));

async function execIn(container: Docker.Container, cmd: string[]): Promise<{ exitCode: number | null; output: string }> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const sink = new PassThrough();
  let output = '';
  sink.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise((resolve) => stream.on('end', resolve));
  return { exitCode: (await exec.inspect()).ExitCode, output };
}

before(async () => {
  docker = dockerFromHost(dockerHost);
  images = await buildAndPushImages({ dockerHost, registry, log: quiet });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-test-'));
  const admin = new URL(pgAdminUrl);
  opts = {
    dockerHost, image: images.v1, pgAdminUrl, cluster: TEST_CLUSTER,
    dbName: 'standin_test', dbUser: 'standin_test', dbPassword: 'standin-test-password',
    dbHost: admin.hostname, dbPort: Number(admin.port || 5432),
    nodePorts: parsePorts(process.env.STANDIN_TEST_PORTS ?? '13501 13502 13503'),
    eventsDir: path.join(tmp, 'events'), seconds: { install: 1, upgrade: 1, plugin: 1 }, log: quiet,
  };
  // Pulls below must come from the registry, not from a local leftover.
  for (const image of Object.values(images)) await docker.getImage(image).remove({ force: true }).catch(() => undefined);
});

after(async () => {
  if (!opts) return;
  const mine = await docker.listContainers({ all: true, filters: { label: [`nocobase-maintenance.cluster=${TEST_CLUSTER}`] } });
  for (const info of mine) await docker.getContainer(info.Id).remove({ force: true });
  const client = new Client({ connectionString: opts.pgAdminUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${opts.dbName} WITH (FORCE)`);
  await client.query(`DROP ROLE IF EXISTS ${opts.dbUser}`);
  await client.end();
  fs.rmSync(tmp, { recursive: true, force: true });
});

void describe('nocobase-standin test fixture', { timeout: 120_000 }, () => {
  const node1 = () => nodeContainerName(opts, 1);

  void it('reset pulls the v1 image from the registry and leaves the node containers created but not started', async () => {
    await assert.rejects(docker.getImage(images.v1).inspect(), 'image must be absent before the reset');
    const names = await resetDemoCluster(opts);
    assert.deepEqual(names, ['standin-test-node-1', 'standin-test-node-2', 'standin-test-node-3']);
    const image = await docker.getImage(images.v1).inspect();
    assert.ok(image.RepoDigests.some((d) => d.startsWith(`${registry}/nocobase-standin@sha256:`)), 'pulled from the registry');
    assert.equal(image.Config.Labels?.['nocobase-maintenance.test-fixture'], 'nocobase-standin');
    for (const name of names) {
      const info = await docker.getContainer(name).inspect();
      assert.equal(info.State.Status, 'created');
      assert.equal(info.HostConfig.NetworkMode, 'host');
      assert.equal(info.Config.Labels['nocobase-maintenance.cluster'], TEST_CLUSTER);
    }
  });

  void it('installs an empty database: 503 APP_INITIALIZING, then 200, and plugins are enabled only after ready', async () => {
    await docker.getContainer(node1()).start();
    const seen = await watchUntilHealthy(port(1));
    assert.ok(seen.includes('503 APP_INITIALIZING'), `saw ${seen.join(' → ')}`);
    assert.equal(seen[seen.length - 1], '200 ok');
    const enabled = await waitForEvent(node1(), 'plugins-enabled');
    const ready = events(node1()).find((e) => e.event === 'ready');
    assert.ok(ready && ready.at < enabled.at, 'ready is recorded before plugins-enabled');
    assert.deepEqual(eventNames(node1()), ['start', 'installing', 'installed', 'ready', 'plugins-enabled']);
    const db = await snapshot();
    assert.deepEqual(db.version, [{ value: '1.6.0' }]);
    assert.equal(db.orders.length, 50);
    assert.ok(db.plugins.length >= 8 && db.plugins.every((p) => p.enabled === true && p.installed === true));
    const info = await (await fetch(`http://127.0.0.1:${port(1)}/api/app:getInfo`)).json();
    assert.deepEqual(info, { data: { version: '1.6.0', name: 'node-1' } });
  });

  void it('`docker exec <node> yarn pm add/enable` changes the plugins table', async () => {
    const container = docker.getContainer(node1());
    assert.equal((await execIn(container, ['yarn', 'pm', 'add', 'hello'])).exitCode, 0);
    const enable = await execIn(container, ['yarn', 'pm', 'enable', 'hello']);
    assert.equal(enable.exitCode, 0, enable.output);
    assert.match(enable.output, /enabled plugin hello/);
    const rows = await query<{ enabled: boolean; installed: boolean; builtIn: boolean }>(
      `SELECT enabled, installed, "builtIn" FROM "applicationPlugins" WHERE "packageName" = '@nocobase/plugin-hello'`);
    assert.deepEqual(rows, [{ enabled: true, installed: true, builtIn: false }]);
    assert.equal((await execIn(container, ['yarn', 'pm', 'enable', 'no-such-plugin'])).exitCode, 1);
  });

  void it('docker stop ends a node with exit code 0 and its events file holds start, ready and stop', async () => {
    await docker.getContainer(node1()).stop();
    assert.equal((await docker.getContainer(node1()).inspect()).State.ExitCode, 0);
    const names = eventNames(node1());
    assert.deepEqual([names[0], names.includes('ready'), names[names.length - 1]], ['start', true, 'stop']);
  });

  void it('a broken upgrade stays up at 503 APP_ERROR, keeping its half-done changes and the old version recorded', async () => {
    // On a copy of the v1 database: later tests upgrade the original.
    const copy = `${opts.dbName}_broken`;
    await admin(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${copy} TEMPLATE ${opts.dbName} OWNER ${opts.dbUser}`);
    });
    try {
      const before = await snapshot(copy);
      const container = await runOneOff('standin-test-broken', images.broken, 1, { DB_DATABASE: copy });
      const failed = await staysUpAtAppError(port(1), container);
      assert.match(failed.message ?? '', /^upgrade from 1\.6\.0 to 1\.8\.0 failed: /);
      const event = events('standin-test-broken').find((e) => e.event === 'upgrade-failed');
      assert.ok(event, `events: ${eventNames('standin-test-broken').join(', ')}`);
      assert.deepEqual((event.detail as { completed: string[] }).completed, ['1.7.0'], 'the 1.7.0 step ran before the broken one');
      // Not transactional: the finished step and half of the broken one stay; the version does not move.
      const after = await snapshot(copy);
      assert.deepEqual(after.version, before.version);
      assert.deepEqual(after.columns.map((c) => c.column_name), ['id', 'customer', 'created_at', 'amount_cents', 'status', 'half_done']);
      await container.stop();
    } finally {
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`));
    }
  });

  void it('the v2 image upgrades a v1 database: APP_COMMANDING, then amount_cents = amount * 100', async () => {
    const before = await query<{ id: number; amount: string }>('SELECT id, amount FROM demo_orders ORDER BY id');
    const container = await runOneOff('standin-test-upgrade', images.v2, 2);
    const seen = await watchUntilHealthy(port(2));
    assert.ok(seen.includes('503 APP_COMMANDING'), `saw ${seen.join(' → ')}`);
    await waitForEvent('standin-test-upgrade', 'plugins-enabled');
    assert.deepEqual(eventNames('standin-test-upgrade'), ['start', 'upgrading', 'upgraded', 'ready', 'plugins-enabled']);
    const db = await snapshot();
    assert.deepEqual(db.version, [{ value: '1.7.0' }]);
    assert.deepEqual(db.columns.map((c) => c.column_name), ['id', 'customer', 'created_at', 'amount_cents', 'status']);
    const after = await query<{ id: number; amount_cents: string; status: string }>('SELECT id, amount_cents, status FROM demo_orders ORDER BY id');
    assert.deepEqual(after, before.map((row) => ({ id: row.id, amount_cents: String(Math.round(Number(row.amount) * 100)), status: 'open' })));
    assert.ok(db.plugins.every((p) => p.version === '1.7.0'));
    await container.stop();
  });

  void it('a v1 image refuses a v2 database and stays up at 503 APP_ERROR saying why', async () => {
    const container = docker.getContainer(node1());
    await container.start();
    const failed = await staysUpAtAppError(port(1), container);
    assert.match(failed.message ?? '', /written by 1\.7\.0, newer than this application \(1\.6\.0\)/);
    const refused = events(node1()).find((e) => e.event === 'refused');
    assert.deepEqual(refused?.detail, { recorded: '1.7.0', image: '1.6.0', reason: 'database is newer than this image' });
    await container.stop();
  });

  void it('health stays 200 while the node cannot reach its database; only app:getInfo fails', async () => {
    const container = await runOneOff('standin-test-dbdown', images.v2, 3);
    await watchUntilHealthy(port(3));
    assert.equal((await fetch(`http://127.0.0.1:${port(3)}/api/app:getInfo`)).status, 200);
    await admin(async (client) => {
      await client.query(`ALTER ROLE ${opts.dbUser} NOLOGIN`);
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [opts.dbUser]);
    });
    try {
      assert.equal((await health(port(3))).status, 200);
      const info = await fetch(`http://127.0.0.1:${port(3)}/api/app:getInfo`);
      assert.notEqual(info.status, 200, await info.text());
    } finally {
      await admin((client) => client.query(`ALTER ROLE ${opts.dbUser} LOGIN`));
    }
    await container.stop();
  });

  void it('with STANDIN_IGNORE_SIGTERM a docker stop is ignored until Docker kills the node after its timeout', async () => {
    const container = await runOneOff('standin-test-stubborn', images.v2, 3, { STANDIN_IGNORE_SIGTERM: 'true' });
    await watchUntilHealthy(port(3));
    const started = Date.now();
    await container.stop({ t: 2 });
    assert.ok(Date.now() - started >= 2_000, 'Docker waited its stop timeout');
    const info = await container.inspect();
    assert.deepEqual([info.State.Running, info.State.ExitCode, info.State.Pid], [false, 137, 0]);
    assert.deepEqual(eventNames('standin-test-stubborn').slice(-1), ['stop-ignored']);
  });

  void it('two nodes upgrading one database at once both run the upgrade; only the observer sees the overlap', async () => {
    // Back to a v1 database (the refused start above left it at 1.7.0).
    await resetDemoCluster(opts);
    await docker.getContainer(node1()).start();
    await waitForEvent(node1(), 'plugins-enabled');
    await docker.getContainer(node1()).stop();
    const [a, b] = ['standin-test-upgrade-a', 'standin-test-upgrade-b'];
    const containers = await Promise.all([runOneOff(a, images.v2, 2), runOneOff(b, images.v2, 3)]);
    await waitFor('both upgrades to end', () => {
      const spans = spansOf(a, b);
      return spans.length === 2 && spans.every((span) => span.outcome !== null) ? spans : undefined;
    });
    const spans = spansOf(a, b);
    assert.deepEqual(spans.map((span) => span.kind), ['upgrade', 'upgrade'], 'nothing refused the second upgrade');
    assert.equal(overlappingSpans(spans).length, 1, JSON.stringify(spans));
    assert.ok(spans.some((span) => span.outcome === 'upgraded'), JSON.stringify(spans));
    for (const container of containers) await container.stop();
  });

  void it('two nodes started at once on an empty database both install; only the observer sees the overlap', async () => {
    await resetDemoCluster(opts);
    const [a, b] = [nodeContainerName(opts, 1), nodeContainerName(opts, 2)];
    await Promise.all([a, b].map((name) => docker.getContainer(name).start()));
    await waitFor('both installs to end', () => {
      const spans = spansOf(a, b);
      return spans.length === 2 && spans.every((span) => span.outcome !== null) ? spans : undefined;
    });
    const spans = spansOf(a, b);
    assert.deepEqual(spans.map((span) => span.kind), ['install', 'install'], 'nothing refused the second install');
    assert.equal(overlappingSpans(spans).length, 1, JSON.stringify(spans));
    assert.ok(spans.some((span) => span.outcome === 'installed'), JSON.stringify(spans));
    for (const name of [a, b]) await docker.getContainer(name).stop();
  });
});

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

interface Health { status: number; code?: string; node?: string | null }

async function health(port: number): Promise<Health> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/__health_check`);
    const text = await res.text();
    const code = res.status === 200 ? text : (JSON.parse(text) as { error: { code: string } }).error.code;
    return { status: res.status, code, node: res.headers.get('x-standin-node') };
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

async function exitCodeOf(container: Docker.Container, timeoutMs = 20_000): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`container did not exit within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const result = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, timeout]);
    return result.StatusCode;
  } finally {
    // A pending timer would keep the test process alive long after the last test.
    clearTimeout(timer);
  }
}

async function runOneOff(name: string, image: string, index: number): Promise<Docker.Container> {
  await docker.getContainer(name).remove({ force: true }).catch(() => undefined);
  fs.rmSync(path.join(opts.eventsDir, `${name}.jsonl`), { force: true });
  await ensureImage(docker, image, quiet);
  const container = await docker.createContainer(nodeContainerSpec(opts, index, { name, image }));
  await container.start();
  return container;
}

async function query<R extends object>(sql: string): Promise<R[]> {
  const client = new Client({ host: opts.dbHost, port: opts.dbPort, database: opts.dbName, user: opts.dbUser, password: opts.dbPassword });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function snapshot() {
  return {
    version: await query<{ value: string }>('SELECT value FROM "applicationVersion"'),
    columns: await query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'demo_orders' ORDER BY ordinal_position"),
    orders: await query<Record<string, unknown>>('SELECT * FROM demo_orders ORDER BY id'),
    plugins: await query<Record<string, unknown>>('SELECT * FROM "applicationPlugins" ORDER BY id'),
  };
}

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

  void it('a broken upgrade exits 1 and leaves the database exactly as it was', async () => {
    const before = await snapshot();
    const container = await runOneOff('standin-test-broken', images.broken, 1);
    assert.equal(await exitCodeOf(container), 1);
    const failed = events('standin-test-broken').find((e) => e.event === 'upgrade-failed');
    assert.ok(failed, `events: ${eventNames('standin-test-broken').join(', ')}`);
    assert.deepEqual(await snapshot(), before);
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

  void it('a v1 image refuses to start on a v2 database and exits 1', async () => {
    const container = docker.getContainer(node1());
    await container.start();
    assert.equal(await exitCodeOf(container), 1);
    const refused = events(node1()).find((e) => e.event === 'refused');
    assert.deepEqual(refused?.detail, { recorded: '1.7.0', image: '1.6.0', reason: 'database is newer than this image' });
  });

  void it('two nodes started at once on an empty database: one installs, the other fails with a conflict', async () => {
    await resetDemoCluster(opts);
    const [a, b] = [nodeContainerName(opts, 1), nodeContainerName(opts, 2)];
    await Promise.all([a, b].map((name) => docker.getContainer(name).start()));
    const [loser, winner] = await waitFor('one node to record a conflict', () => {
      if (eventNames(a).includes('conflict')) return [a, b] as const;
      if (eventNames(b).includes('conflict')) return [b, a] as const;
      return undefined;
    });
    assert.equal(await exitCodeOf(docker.getContainer(loser)), 1);
    await waitForEvent(winner, 'ready');
    assert.ok(eventNames(winner).includes('installed'));
    assert.ok(!eventNames(loser).includes('installed'));
    await docker.getContainer(winner).stop();
  });
});

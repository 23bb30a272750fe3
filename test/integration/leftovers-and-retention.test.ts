import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Client } from 'pg';
import { createActivities, type Activities } from '../../src/activities';
import { derivedName } from '../../src/adapters/postgres/whole-database';
import type { ClusterConfig } from '../../src/config/schema';
import type { WorkerDeps } from '../../src/worker/deps';
import { runActivity, stackConfig, stackDeps, stackEnv } from '../support/stack';
import { withClient } from '../support/pg-client';
import { haproxyOf } from '../support/haproxy-config';

// Each suite gets a cluster of its own: one node container that is never started, a database of
// its own and a maintenance map key of its own. The shared clusters carry what other tests and
// runs leave (set-aside databases, saved containers), and retention must not drop those.
const run = `it${process.pid}x${Date.now().toString(36)}`;

const admin = <T>(work: (client: Client) => Promise<T>): Promise<T> => withClient(process.env.PG_ADMIN_URL ?? '', work);
const databaseExists = (name: string): Promise<boolean> =>
  admin(async (db) => (await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);

interface Isolated {
  name: string;
  database: string;
  key: string;
  container: string;
  deps: WorkerDeps;
  activities: Activities;
}

function isolatedCluster(suffix: string): Isolated {
  const name = `${run}-${suffix}`;
  const isolated = { name, database: `nm_${run}_${suffix}`, key: name, container: `${name}-node-1` } as Isolated;
  before(async () => {
    const env = stackEnv();
    const config = stackConfig((standin, whole) => {
      const cluster: ClusterConfig = structuredClone(standin);
      cluster.nodes = [{ ...standin.nodes[0]!, container: isolated.container }];
      cluster.database.database = isolated.database;
      haproxyOf(cluster).maintenanceKey = isolated.key;
      cluster.backup.keep = 2;
      whole.clusters[name] = cluster;
    });
    isolated.deps = stackDeps(config);
    isolated.activities = createActivities(isolated.deps);
    await admin((db) => db.query(`CREATE DATABASE ${db.escapeIdentifier(isolated.database)} OWNER ${db.escapeIdentifier(config.clusters[name]!.database.user)}`));
    await isolated.deps.docker(env.DOCKER_HOST).createContainer({ name: isolated.container, Image: env.STANDIN_IMAGE_V1 });
  });
  after(async () => {
    const docker = isolated.deps.docker(stackEnv().DOCKER_HOST);
    for (const entry of await docker.listContainers({ all: true, filters: { name: [isolated.container] } })) {
      await docker.getContainer(entry.Id).remove({ force: true });
    }
    const { runtimeApi, maintenanceMap } = haproxyOf(isolated.deps.config.clusters[name]);
    await isolated.deps.haproxy(runtimeApi).command(`del map ${maintenanceMap} ${isolated.key}`);
    await admin(async (db) => {
      const { rows } = await db.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`nm\\_${run}\\_${suffix}%`]);
      for (const { datname } of rows) await db.query(`DROP DATABASE IF EXISTS ${db.escapeIdentifier(datname)} WITH (FORCE)`);
    });
    await isolated.deps.close();
  });
  return isolated;
}

/** The text between the backticks of a recovery step that starts with `start`. */
function quoted(recovery: string, start: string): string {
  const command = recovery.split('`').find((part) => part.startsWith(start));
  assert.ok(command, `no \`${start}…\` in: ${recovery}`);
  return command;
}

describe('findLeftovers on the real Docker engine, PostgreSQL and HAProxy', () => {
  const cluster = isolatedCluster('lo');
  const find = () => runActivity(cluster.activities.findLeftovers, { cluster: cluster.name });
  const login = () => cluster.deps.databaseLogin(cluster.name);
  const asCluster = (sql: string) =>
    withClient(`postgres://${login().user}:${encodeURIComponent(login().password)}@${login().host}:${login().port}/postgres`, (db) => db.query(sql));
  const saved = () => `${cluster.container}-pre-abc123`;
  const aside = () => derivedName(cluster.database, 'rb', 'abc123');

  it('finds nothing on a cluster no run was interrupted on', async () => {
    assert.deepEqual(await find(), []);
  });

  it('finds the saved container, set-aside database, clone backup and maintenance page an interrupted run left, each with its recovery command', async () => {
    const env = stackEnv();
    const { runtimeApi, maintenanceMap } = haproxyOf(cluster.deps.config.clusters[cluster.name]);
    await cluster.deps.docker(env.DOCKER_HOST).createContainer({ name: saved(), Image: env.STANDIN_IMAGE_V1 });
    await admin((db) => db.query(`CREATE DATABASE ${db.escapeIdentifier(aside())} OWNER ${db.escapeIdentifier(login().user)}`));
    const clone = await runActivity(cluster.activities.backupDatabase, { cluster: cluster.name, method: 'clone', label: 'abc123' });
    await cluster.deps.haproxy(runtimeApi).command(`add map ${maintenanceMap} ${cluster.key} on`);

    const found = await find();
    assert.deepEqual(
      found.map(({ kind, name }) => [kind, name]),
      [
        ['saved-container', saved()],
        ['clone-backup', clone.location],
        ['set-aside-database', aside()],
        ['maintenance-on', cluster.key],
      ],
    );
    const [container, cloned, setAside, page] = found;
    assert.ok(container?.createdAt && cloned?.createdAt === clone.createdAt);
    assert.equal(quoted(container.recovery, 'DOCKER_HOST='), `DOCKER_HOST=${env.DOCKER_HOST} docker rm ${saved()}`);
    assert.equal(quoted(cloned.recovery, 'DROP'), `DROP DATABASE "${clone.location}";`);
    assert.equal(quoted(setAside!.recovery, 'DROP'), `DROP DATABASE "${aside()}";`);
    assert.match(setAside!.recovery, new RegExp(`ALTER DATABASE "${aside()}" RENAME TO "${cluster.database}"`));
    assert.match(quoted(page!.recovery, 'echo'), new RegExp(`^echo 'set map ${maintenanceMap} ${cluster.key} off' \\| socat stdio unix-connect:`));
  });

  it('does not count what a finished run kept, and nothing is left once the recovery steps are followed', async () => {
    // The clone's run finished: pruneBackups marks it kept.
    await runActivity(cluster.activities.pruneBackups, { cluster: cluster.name, label: 'abc123' });
    // A completed restore marks the database it set aside.
    const backup = await runActivity(cluster.activities.backupDatabase, { cluster: cluster.name, method: 'clone', label: 'def456' });
    const restored = await runActivity(cluster.activities.restoreDatabase, { cluster: cluster.name, backup, label: 'ghi789' });
    assert.equal(await databaseExists(restored.setAsideAs), true);
    const found = await find();
    assert.deepEqual(found.map(({ kind }) => kind), ['saved-container', 'set-aside-database', 'maintenance-on']);

    const [container, setAside, page] = found;
    execFileSync('sh', ['-c', quoted(container!.recovery, 'DOCKER_HOST=')]);
    await asCluster(quoted(setAside!.recovery, 'DROP'));
    const { runtimeApi } = haproxyOf(cluster.deps.config.clusters[cluster.name]);
    await cluster.deps.haproxy(runtimeApi).command(/^echo '(.*)' \|/.exec(quoted(page!.recovery, 'echo'))![1]!);
    assert.deepEqual(await find(), []);
  });
});

describe('pruneBackups on the real PostgreSQL (backup.keep = 2)', () => {
  const cluster = isolatedCluster('pr');
  const clone = (label: string) => runActivity(cluster.activities.backupDatabase, { cluster: cluster.name, method: 'clone', label });
  const prune = (label: string) => runActivity(cluster.activities.pruneBackups, { cluster: cluster.name, label });
  const cloneOf = (label: string) => derivedName(cluster.database, 'bk', label);

  it('keeps the newest clones finished runs kept, drops older ones, and leaves those of interrupted runs', async () => {
    await clone('p1');
    assert.deepEqual((await prune('p1')).kept, [cloneOf('p1')]);
    await clone('p2');
    await prune('p2');
    await clone('p3'); // its run was interrupted: never pruned, so never kept
    await clone('p4');
    // The backup store's own retention (`store`) is backup-store-retention's to test: here the clones.
    const { store, ...pruned } = await prune('p4');
    assert.deepEqual(pruned, { kept: [cloneOf('p4'), cloneOf('p2')], dropped: [cloneOf('p1')], spared: [], unsettled: [cloneOf('p3')] });
    assert.ok(store, 'the run pruned its backup store too');
    assert.deepEqual(
      await Promise.all(['p1', 'p2', 'p3', 'p4'].map((label) => databaseExists(cloneOf(label)))),
      [false, true, true, true],
    );
  });

  it('never drops a backup somebody is connected to, and drops it once they are gone', async () => {
    const url = new URL(stackEnv().STANDIN_DATABASE_URL);
    url.pathname = `/${cloneOf('p2')}`;
    await clone('p5');
    await withClient(url.toString(), async () => {
      const pruned = await prune('p5');
      assert.deepEqual(pruned.kept, [cloneOf('p5'), cloneOf('p4')]);
      assert.deepEqual(pruned.spared, [{ name: cloneOf('p2'), reason: 'sessions are connected to it' }]);
      assert.equal(await databaseExists(cloneOf('p2')), true);
    });
    // A closed connection's backend leaves pg_stat_activity a moment after the client is gone.
    let dropped: string[] = [];
    for (let attempt = 0; attempt < 20 && dropped.length === 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      dropped = (await prune('p5')).dropped;
    }
    assert.deepEqual(dropped, [cloneOf('p2')]);
  });

  it('keeps the newest databases completed restores set aside and drops older ones', async () => {
    const asides: string[] = [];
    for (const label of ['r1', 'r2', 'r3']) {
      const backup = await clone(`${label}-backup`);
      asides.push((await runActivity(cluster.activities.restoreDatabase, { cluster: cluster.name, backup, label })).setAsideAs);
    }
    const pruned = await prune('r3');
    assert.deepEqual(pruned.dropped, [asides[0]]);
    assert.ok(pruned.kept.includes(asides[2]!) && pruned.kept.includes(asides[1]!));
    assert.equal(await databaseExists(asides[0]!), false);
  });
});

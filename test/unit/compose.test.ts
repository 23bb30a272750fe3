import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load';
import { haproxyOf } from '../support/haproxy-config';
import { dockerNodesOf, dockerStorageOf } from '../../src/config/schema';

const root = join(__dirname, '..', '..');

interface ComposeService {
  image?: string;
  depends_on?: string[];
  build?: string | { context?: string; args?: Record<string, string> };
  profiles?: string[];
  environment?: Record<string, string>;
  container_name?: string;
  volumes?: string[];
  ports?: string[];
}

describe('docker-compose.yml for machines with internet', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };

  it("has exactly the services of the README's table, on the images it names", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const table = readme.split('<!-- compose-services -->\n')[1]?.split('\n\n')[0] ?? assert.fail('README has no compose-services table');
    const rows = [...table.matchAll(/^\| `([a-z0-9-]+)` \| ([^|]+) \|/gm)].map(([, service, image]) => ({ service: service!, image: image!.trim() }));
    assert.deepEqual(rows.map((row) => row.service).sort(), Object.keys(compose.services).sort());
    for (const { service, image } of rows) {
      const defined = compose.services[service]!;
      if (defined.build !== undefined) assert.match(image, /Dockerfile/, `${service} is built, the README says ${image}`);
      else assert.match(defined.image ?? '', new RegExp(`^(\\$\\{[A-Z_]+:-)?${image.replace(/`/g, '')}:`), `${service}'s image`);
    }
  });

  it('keeps Temporal in PostgreSQL, with the Web UI as its own service', () => {
    const temporal = compose.services.temporal!;
    assert.equal(temporal.environment?.DB, 'postgres12');
    assert.equal(temporal.environment?.POSTGRES_SEEDS, 'temporal-db');
    assert.deepEqual(temporal.depends_on, ['temporal-db']);
    assert.equal(compose.services['temporal-ui']!.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(compose.services.worker!.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  });

  it('never starts the nodes with `docker compose up`, and configures them alike', () => {
    const nodes = ['app-1', 'app-2', 'app-3'].map((name) => compose.services[name]!);
    for (const node of nodes) assert.deepEqual(node.profiles, ['cluster']);
    const shared = ['APP_KEY', 'DB_HOST', 'DB_DATABASE', 'DB_USER', 'DB_PASSWORD'];
    for (const key of shared) assert.equal(new Set(nodes.map((node) => node.environment?.[key])).size, 1, `${key} differs between nodes`);
    assert.ok(nodes.every((node) => node.volumes?.includes('nocobase-storage:/app/nocobase/storage')), 'storage is shared');
  });

  it('builds the worker on the official node image unless NODE_IMAGE is given (machines that cannot pull set it)', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    assert.match(dockerfile, /^FROM \$\{NODE_IMAGE\}$/m);
    assert.equal(compose.services.worker!.build, '.', 'compose passes no NODE_IMAGE: the default is the official image');
  });

  it("keeps HAProxy's admin-level runtime API off the network: a socket in a volume only HAProxy and the worker mount", () => {
    const haproxyCfg = readFileSync(join(root, 'deploy', 'compose', 'haproxy.cfg'), 'utf8');
    const sockets = [...haproxyCfg.matchAll(/^\s*stats socket (\S+)/gm)].map((match) => match[1]);
    assert.deepEqual(sockets, ['/var/lib/haproxy/admin.sock'], 'no ipv4@/ipv6@ listener');
    const mounting = Object.entries(compose.services).filter(([, service]) => service.volumes?.some((volume) => volume.startsWith('haproxy-admin:'))).map(([name]) => name).sort();
    assert.deepEqual(mounting, ['haproxy', 'worker']);
    const config = loadConfig(join(root, 'deploy', 'compose', 'clusters.yaml'));
    const workerMount = compose.services.worker!.volumes!.find((volume) => volume.startsWith('haproxy-admin:'))!.split(':')[1];
    assert.equal(haproxyOf(config.clusters.compose).runtimeApi, `unix://${workerMount}/admin.sock`);
  });

  it('has the worker write the map and server state files HAProxy reads at (re)start, through a volume both mount', () => {
    const haproxyCfg = readFileSync(join(root, 'deploy', 'compose', 'haproxy.cfg'), 'utf8');
    const lb = haproxyOf(loadConfig(join(root, 'deploy', 'compose', 'clusters.yaml')).clusters.compose);
    // A path as the worker sees it, as HAProxy sees it: through a named volume both mount.
    const mounts = (service: string) => (compose.services[service]!.volumes ?? []).map((volume) => volume.split(':')).filter(([source]) => !source!.startsWith('.') && !source!.startsWith('/'));
    const inHaproxy = (workerPath: string) => {
      const [volume, at] = mounts('worker').find(([, target]) => workerPath.startsWith(`${target}/`)) ?? assert.fail(`${workerPath} is in no volume of the worker`);
      const [, there] = mounts('haproxy').find(([source]) => source === volume) ?? assert.fail(`HAProxy does not mount ${volume}`);
      return `${there}${workerPath.slice(at!.length)}`;
    };
    assert.ok(lb.serverStateFile && lb.maintenanceMapFile, 'the cluster names the files the worker writes');
    const base = /^\s*server-state-base (\S+)$/m.exec(haproxyCfg)?.[1];
    const name = /^\s*server-state-file-name (\S+)$/m.exec(haproxyCfg)?.[1];
    assert.equal(inHaproxy(lb.serverStateFile), `${base}/${name}`);
    assert.equal(inHaproxy(lb.maintenanceMapFile), lb.maintenanceMap);
    assert.ok(haproxyCfg.includes(`map(${lb.maintenanceMap},off)`), 'the acl reads that map');
  });

  it("ships a cluster config the worker accepts, naming the compose file's containers", () => {
    const config = loadConfig(join(root, 'deploy', 'compose', 'clusters.yaml'));
    const containers = dockerNodesOf(config.clusters.compose!).map((node) => node.container);
    assert.deepEqual(containers, ['app-1', 'app-2', 'app-3'].map((name) => compose.services[name]!.container_name));
  });

  it('keeps backups in a named volume of the worker, at the directory the cluster backs up to', () => {
    const { store } = loadConfig(join(root, 'deploy', 'compose', 'clusters.yaml')).clusters.compose!.backup;
    assert.equal(store.kind, 'directory');
    const mount = compose.services.worker!.volumes!.map((volume) => volume.split(':')).find(([, target]) => store.kind === 'directory' && target === store.path);
    assert.ok(mount, `the worker mounts nothing at the backup store's directory`);
    assert.ok(Object.keys((compose as unknown as { volumes: Record<string, unknown> }).volumes).includes(mount[0]!), `${mount[0]} is not a named volume`);
  });

  it("backs up the nodes' shared storage volume by the name Docker gives it", () => {
    const storage = dockerStorageOf(loadConfig(join(root, 'deploy', 'compose', 'clusters.yaml')).clusters.compose!);
    assert.ok(storage?.volume, 'clusters.yaml has no storage: section with the volume');
    const [nodeVolume] = compose.services['app-1']!.volumes!.find((volume) => volume.endsWith(`:${storage.mountPath}`))!.split(':');
    const declared = (compose as unknown as { volumes: Record<string, { name?: string } | null> }).volumes[nodeVolume!];
    assert.equal(declared?.name, storage.volume, 'without name: compose prefixes the project name, and the worker would back up a volume no node mounts');
  });

  it('gives the approval page the same codec keys and signing key as the worker, outside any profile', () => {
    const worker = compose.services.worker!.environment!;
    const approvals = compose.services.approvals!;
    assert.equal(approvals.profiles, undefined, 'the mails link to it: it runs with `docker compose up`');
    for (const key of ['NOCOBASE_MAINTENANCE_CODEC_KEYS', 'CODEC_KEY_1', 'CODEC_KEY_2', 'APPROVAL_SIGNING_KEY']) assert.equal(approvals.environment?.[key], worker[key], key);
    const config = loadConfig(join(root, 'deploy', 'compose', 'clusters.yaml'));
    assert.equal(config.approvals?.keys[0]?.keyEnv, 'APPROVAL_SIGNING_KEY');
    assert.equal(`0.0.0.0:${approvals.ports?.[0]?.split(':')[1]}`, approvals.environment?.APPROVALS_LISTEN);
  });

  it("runs a PostgreSQL no newer than the worker image's pg_dump (Debian bookworm's postgresql-client)", () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /apt-get install -y --no-install-recommends postgresql-client\b/);
    assert.match(dockerfile, /bookworm/, 'the base whose postgresql-client is 15');
    const major = Number(/^postgres:(\d+)/.exec(compose.services.postgres!.image ?? '')?.[1]);
    assert.ok(major <= 15, `postgres:${major} is newer than bookworm's pg_dump 15`);
  });
});


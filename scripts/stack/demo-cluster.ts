// Provisions the stack's two 3-node clusters: `demo`, real NocoBase (scripts/stack/nocobase/), and
// `standin`, the NocoBase stand-in (a TEST FIXTURE, see test/fixtures/nocobase-standin/README.md).
// Each gets its database, the volume `<cluster>-storage` its nodes share at
// /app/nocobase/storage, and containers <cluster>-node-1..3 that are created but NOT started,
// because starting them is the maintenance workflows' job.
//
//   npx tsx scripts/stack/demo-cluster.ts ensure [demo|standin]  # idempotent; existing containers are kept (default: both)
//   npx tsx scripts/stack/demo-cluster.ts reset [demo|standin]   # remove containers, recreate the database and volume, then ensure (default: demo)
//
// Env (cluster-options.ts reads it): DOCKER_HOST, PG_ADMIN_URL, DEMO_DB_PASSWORD_FILE,
// DEMO_IMAGE_V1, DEMO_NODE_PORTS, STANDIN_IMAGE_V1, STANDIN_NODE_PORTS, STANDIN_EVENTS_DIR.
import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { Client } from 'pg';
import { setMapEntry } from '../../src/adapters/haproxy/backend';
import { HaproxyRuntime } from '../../src/adapters/haproxy/runtime';
import { isNotFound } from '../../src/adapters/docker/errors';
import { ensureImage as pullIfMissing } from '../../src/adapters/docker/image-pull';
import { dropDerivedDatabases, removeSavedContainers } from './cluster-leftovers';
import { forgetHeldPolicy } from '../../src/adapters/docker/restart-policy';
import { demoOptionsFromEnv, standinOptionsFromEnv } from './cluster-options';
import { dockerFromHost } from './docker-build';
import { writeMapFileEntry } from '../../src/adapters/haproxy/map-file';
import { persistServerStates } from '../../src/adapters/haproxy/server-state';

export { demoOptionsFromEnv, parsePorts, standinOptionsFromEnv } from './cluster-options';

const DEMO_APP_KEY = 'demo-app-key-not-a-secret-test-fixture';
const EVENTS_MOUNT = '/standin-events';
/** Where NocoBase (and the stand-in) keep uploads and plugins, shared by every node. */
export const STORAGE_MOUNT = '/app/nocobase/storage';

export interface DemoClusterOptions {
  /** Real NocoBase (the `demo` cluster) or the stand-in test fixture; default `standin`. */
  kind?: 'nocobase' | 'standin';
  /** Real NocoBase only: the root user its install creates (INIT_ROOT_EMAIL / INIT_ROOT_PASSWORD). */
  root?: { email: string; password: string };
  dockerHost: string;
  image: string;
  pgAdminUrl: string;
  dbName: string;
  dbUser: string;
  dbPassword: string;
  /** Host and port the containers (host networking) use to reach PostgreSQL. */
  dbHost: string;
  dbPort: number;
  nodePorts: number[];
  eventsDir: string;
  seconds: { install?: number; upgrade?: number; plugin?: number };
  /** Container names are `<cluster>-node-<i>`; tests use their own cluster name. */
  cluster?: string;
  /** When given, reset also puts the nodes' HAProxy servers back in maintenance and the switch off. */
  loadBalancer?: { runtimeApi: string; backend: string; maintenanceMap: string; key: string; serverStateFile?: string };
  log?: (line: string) => void;
}

export interface StandinEvent {
  at: string;
  node: string;
  event: string;
  version: string;
  pid: number;
  detail: unknown;
}

export function nodeContainerName(options: Pick<DemoClusterOptions, 'cluster'>, index: number): string {
  return `${options.cluster ?? 'demo'}-node-${index}`;
}

/** The named volume every node of the cluster mounts at STORAGE_MOUNT: `demo-storage` for `demo`. */
export function storageVolumeName(options: Pick<DemoClusterOptions, 'cluster'>): string {
  return `${options.cluster ?? 'demo'}-storage`;
}

export function nodeContainerNames(options: Pick<DemoClusterOptions, 'cluster' | 'nodePorts'>): string[] {
  return options.nodePorts.map((_, i) => nodeContainerName(options, i + 1));
}

/**
 * The create spec of node `index` (1-based). Tests reuse it with overrides (another image, name
 * or port) to run one-off stand-ins against the same database.
 */
export function nodeContainerSpec(
  options: DemoClusterOptions,
  index: number,
  overrides: { name?: string; image?: string; port?: number; env?: Record<string, string> } = {},
): Docker.ContainerCreateOptions {
  const name = overrides.name ?? nodeContainerName(options, index);
  const port = overrides.port ?? options.nodePorts[index - 1];
  if (port === undefined) throw new Error(`no port configured for node ${index}`);
  const { install, upgrade, plugin } = options.seconds;
  const real = options.kind === 'nocobase';
  const env: Record<string, string> = {
    APP_PORT: String(port),
    DB_DIALECT: 'postgres',
    DB_HOST: options.dbHost,
    DB_PORT: String(options.dbPort),
    DB_DATABASE: options.dbName,
    DB_USER: options.dbUser,
    DB_PASSWORD: options.dbPassword,
    APP_KEY: DEMO_APP_KEY,
    ...(real ? realNocobaseEnv(options) : {
      STANDIN_NODE_NAME: `node-${index}`,
      STANDIN_EVENTS_FILE: `${EVENTS_MOUNT}/${name}.jsonl`,
      ...(install === undefined ? {} : { STANDIN_INSTALL_SECONDS: String(install) }),
      ...(upgrade === undefined ? {} : { STANDIN_UPGRADE_SECONDS: String(upgrade) }),
      ...(plugin === undefined ? {} : { STANDIN_PLUGIN_SECONDS: String(plugin) }),
    }),
    ...overrides.env,
  };
  return {
    name,
    Image: overrides.image ?? options.image,
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: {
      'nocobase-maintenance.cluster': options.cluster ?? 'demo',
      'nocobase-maintenance.node': `node-${index}`,
      'nocobase-maintenance.kind': options.kind ?? 'standin',
    },
    HostConfig: {
      NetworkMode: 'host',
      Binds: [...(real ? [] : [`${options.eventsDir}:${EVENTS_MOUNT}`]), `${storageVolumeName(options)}:${STORAGE_MOUNT}`],
      RestartPolicy: { Name: 'no' },
    },
  };
}

/**
 * What a real NocoBase node needs beyond the connection: the root user its install creates, and
 * SKIP_SAME_VERSION_UPGRADE. The image's quickstart runs NocoBase's upgrade on every start, even
 * at the same version, and nothing locks it; the procedures start the other nodes together once
 * the first is ready, so without this each of them would run the upgrade at once on one database
 * (see the README, "Faithful to real NocoBase clusters"). A version change still upgrades.
 */
function realNocobaseEnv(options: DemoClusterOptions): Record<string, string> {
  return {
    SKIP_SAME_VERSION_UPGRADE: 'true',
    ...(options.root ? { INIT_ROOT_EMAIL: options.root.email, INIT_ROOT_PASSWORD: options.root.password, INIT_ROOT_NICKNAME: 'Demo admin' } : {}),
  };
}

/** Pulls `image` from its registry unless it is already present locally (the product's image client). */
export async function ensureImage(docker: Docker, image: string, log: (line: string) => void): Promise<void> {
  await pullIfMissing(docker, image, { dockerHost: 'the stack\'s Docker Engine', hooks: { log: () => log(`pulling ${image}`) } });
}

async function withAdmin<T>(options: DemoClusterOptions, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: options.pgAdminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// format() with %I/%L quotes identifiers and the password on the server side; DDL cannot take
// bind parameters.
async function execFormatted(client: Client, template: string, ...args: string[]): Promise<void> {
  const { rows } = await client.query<{ sql: string }>(`SELECT format($1, ${args.map((_, i) => `$${i + 2}::text`).join(', ')}) AS sql`, [template, ...args]);
  const sql = rows[0]?.sql;
  if (!sql) throw new Error(`could not format ${template}`);
  await client.query(sql);
}

async function ensureDatabase(options: DemoClusterOptions): Promise<void> {
  await withAdmin(options, async (client) => {
    const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [options.dbUser]);
    // ALTER on an existing role keeps the password in step with the password file.
    // CREATEDB: the clone backup and the restores create and rename databases as this role.
    await execFormatted(client, role.rowCount ? 'ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L' : 'CREATE ROLE %I WITH LOGIN CREATEDB PASSWORD %L',
      options.dbUser, options.dbPassword);
    const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.dbName]);
    if (db.rowCount) await execFormatted(client, 'ALTER DATABASE %I OWNER TO %I', options.dbName, options.dbUser);
    else await execFormatted(client, 'CREATE DATABASE %I OWNER %I', options.dbName, options.dbUser);
  });
}

async function ensureStorageVolume(docker: Docker, options: DemoClusterOptions, log: (line: string) => void): Promise<void> {
  const name = storageVolumeName(options);
  try {
    await docker.getVolume(name).inspect();
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await docker.createVolume({ Name: name, Labels: { 'nocobase-maintenance.cluster': options.cluster ?? 'demo' } });
  log(`volume ${name} created`);
}

/**
 * Empties the storage for reset: every container that mounts the volume goes first (nodes saved
 * under a label, storage helpers), or the Engine refuses to remove it.
 */
async function removeStorageVolume(docker: Docker, options: DemoClusterOptions, log: (line: string) => void): Promise<void> {
  const name = storageVolumeName(options);
  for (const info of await docker.listContainers({ all: true, filters: { volume: [name] } })) {
    await docker.getContainer(info.Id).remove({ force: true, v: false }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    log(`${info.Names[0]?.replace(/^\//, '') ?? info.Id} removed (it used volume ${name})`);
  }
  try {
    await docker.getVolume(name).remove();
    log(`volume ${name} removed`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Idempotent. Creates the role, the database, the storage volume and any missing node container
 * (pulling the image first); containers that exist are left exactly as they are, running or not.
 */
export async function ensureDemoCluster(options: DemoClusterOptions): Promise<string[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const docker = dockerFromHost(options.dockerHost);
  if (options.kind !== 'nocobase') fs.mkdirSync(options.eventsDir, { recursive: true });
  await ensureDatabase(options);
  await ensureStorageVolume(docker, options, log);
  const names = nodeContainerNames(options);
  for (const [i, name] of names.entries()) {
    try {
      const existing = await docker.getContainer(name).inspect();
      // A stand-in left by a stack from before the demo ran real NocoBase: its containers, data
      // and storage are the stand-in's, so the cluster starts over as real NocoBase.
      if (options.kind === 'nocobase' && existing.Config.Labels?.['nocobase-maintenance.kind'] !== 'nocobase') {
        log(`${name} is a stand-in: resetting ${options.cluster ?? 'demo'} to real NocoBase`);
        return resetDemoCluster(options);
      }
      log(`${name} exists, left as is`);
      continue;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await ensureImage(docker, options.image, log);
    await docker.createContainer(nodeContainerSpec(options, i + 1));
    log(`${name} created (not started)`);
  }
  return names;
}

/**
 * Destroys the cluster's containers (saved ones too, and records of held restart policies), storage volume, database with its clone
 * backups and set-aside copies, and event files, and (when given) resets its load balancer, then runs
 * ensureDemoCluster: a reset cluster has nothing findLeftovers would report.
 */
export async function resetDemoCluster(options: DemoClusterOptions): Promise<string[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const docker = dockerFromHost(options.dockerHost);
  for (const name of nodeContainerNames(options)) {
    try {
      await docker.getContainer(name).remove({ force: true });
      log(`${name} removed`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    fs.rmSync(path.join(options.eventsDir, `${name}.jsonl`), { force: true });
    // The record of a restart policy a terminated run held: findLeftovers would report it.
    await forgetHeldPolicy(docker, name);
  }
  await removeSavedContainers(docker, nodeContainerNames(options), log);
  await removeStorageVolume(docker, options, log);
  await withAdmin(options, async (client) => {
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [options.dbName]);
    await execFormatted(client, 'DROP DATABASE IF EXISTS %I WITH (FORCE)', options.dbName);
    await dropDerivedDatabases(client, options.dbName, log);
  });
  log(`database ${options.dbName} dropped`);
  if (options.loadBalancer) await resetLoadBalancer(options.loadBalancer, options.nodePorts.length);
  return ensureDemoCluster(options);
}

/** The load balancer as stack:up leaves it: every node's server in maintenance, the 503 switch off. */
export async function resetLoadBalancer(lb: NonNullable<DemoClusterOptions['loadBalancer']>, nodes: number): Promise<void> {
  const runtime = new HaproxyRuntime(lb.runtimeApi);
  for (let i = 1; i <= nodes; i++) await runtime.commandExpectingSilence(`set server ${lb.backend}/node-${i} state maint`);
  await setMapEntry(runtime, lb.maintenanceMap, lb.key, 'off');
  // The file too, as the procedures write it: a later reload must not bring back a run's switch.
  await writeMapFileEntry(lb.maintenanceMap, lb.key, 'off');
  // And the servers' states: HAProxy's next start (stack:up after a crash) loads them from it.
  if (lb.serverStateFile) await persistServerStates(runtime, lb.backend, lb.serverStateFile);
}

/** The events a stand-in container appended to its JSON-lines file; [] if it wrote none yet. */
export function readStandinEvents(dir: string, container: string): StandinEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, `${container}.jsonl`), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as StandinEvent);
}

async function main(): Promise<void> {
  const [command, which] = process.argv.slice(2);
  if ((command !== 'ensure' && command !== 'reset') || (which !== undefined && which !== 'demo' && which !== 'standin')) {
    throw new Error('usage: demo-cluster.ts ensure|reset [demo|standin]');
  }
  const clusters = which ? [which] : command === 'ensure' ? ['demo', 'standin'] : ['demo'];
  for (const cluster of clusters) {
    const options = cluster === 'demo' ? demoOptionsFromEnv() : standinOptionsFromEnv();
    const names = command === 'ensure' ? await ensureDemoCluster(options) : await resetDemoCluster(options);
    process.stdout.write(`${names.join(' ')}\n`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`demo-cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

// A fleet of small stand-in clusters (the test fixture, 2 nodes each) beside the stack's own, for
// the fleet e2e test and the fleet benchmark. Each cluster gets its own database in the stack's
// PostgreSQL, its own storage volume, its own node ports, and a frontend+backend in an HAProxy
// process of the fixture's own (runtime API socket, maintenance map, server-state files, as
// scripts/stack/haproxy.sh sets them up); a cluster config YAML names them all, and a worker
// process on a task queue of its own runs with it. `teardown` removes everything it made.
// It never touches the stack's `demo` and `standin` clusters, nor the stack's HAProxy.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Client as TemporalClient } from '@temporalio/client';
import { Client } from 'pg';
import { isNotFound } from '../../src/adapters/docker/errors';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { dropDerivedDatabases } from '../../scripts/stack/cluster-leftovers';
import { standinOptionsFromEnv } from '../../scripts/stack/cluster-options';
import { ensureDemoCluster, storageVolumeName, type DemoClusterOptions } from '../../scripts/stack/demo-cluster';
import { dockerFromHost } from '../../scripts/stack/docker-build';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

const ROOT = path.resolve(__dirname, '..', '..');
const MAINTENANCE_PAGE = path.join(ROOT, 'scripts', 'stack', 'haproxy', 'maintenance.html');

export interface FleetClustersOptions {
  /** Cluster names are `<prefix>-1` … `<prefix>-<count>`; a lower-case prefix unique to the run. */
  prefix: string;
  count: number;
  /** Nodes per cluster (default 2). */
  nodes?: number;
  /** Image the nodes are created on (default STANDIN_IMAGE_V1). */
  image?: string;
  /** `approval.allowProceedOnTimeout` of every cluster (the bench's upgrades proceed without a person). */
  allowProceedOnTimeout?: boolean;
  /** Backup method of every cluster (default clone: a CREATE DATABASE … TEMPLATE on the stack's server). */
  backupMethod?: 'clone' | 'pg_dump';
  /** Labels of cluster i (1-based); every cluster also gets `fleet: <prefix>`. */
  labels?: (index: number) => Record<string, string>;
  /** How many clusters are created at once (default 4). */
  concurrency?: number;
  /** Another PostgreSQL server than the stack's for the clusters' databases (the bench's own, with more connections). */
  postgres?: { adminUrl: string; host: string; port: number };
  log?: (line: string) => void;
}

export interface FleetClusters {
  prefix: string;
  clusters: string[];
  dir: string;
  configFile: string;
  taskQueue: string;
  /** The cluster's public URL through the fixture's HAProxy. */
  lbUrl(cluster: string): string;
  /** The worker's environment: the stack's, with this fixture's config file and task queue. */
  workerEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  startWorker(extra?: NodeJS.ProcessEnv): Promise<WorkerProcess>;
  /** Brings every cluster up on its image with the product's own firstStart (through a running worker). */
  bringUp(client: TemporalClient): Promise<void>;
  teardown(): Promise<void>;
}

interface Member {
  name: string;
  dbName: string;
  nodePorts: number[];
  lbPort: number;
  options: DemoClusterOptions;
}

/** Ports the kernel hands out as free now (each bound, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Settles each batch before the next (a failure must not leave a sibling still creating after teardown). */
async function inBatches<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    const failed = (await Promise.allSettled(items.slice(i, i + size).map(work))).find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

export function haproxyConfig(dir: string, members: Array<Pick<Member, 'name' | 'nodePorts' | 'lbPort'>>): string {
  const map = path.join(dir, 'haproxy', 'maintenance.map');
  const sections = members.map(({ name, nodePorts, lbPort }) => `
frontend ${name}
    bind 127.0.0.1:${lbPort}
    acl maintenance str(${name}),map(${map},off) -m str on
    acl no_nodes nbsrv(${name}_nodes) lt 1
    http-request return status 503 content-type "text/html; charset=utf-8" file ${MAINTENANCE_PAGE} hdr Retry-After 60 if maintenance || no_nodes
    default_backend ${name}_nodes

backend ${name}_nodes
    server-state-file-name ${name}_nodes
    option httpchk GET /api/__health_check
    http-check expect status 200
    default-server inter 1s fastinter 500ms rise 1 fall 2
${nodePorts.map((port, i) => `    server node-${i + 1} 127.0.0.1:${port} check disabled`).join('\n')}
`);
  return `# Generated by test/support/fleet-clusters.ts for one test run.
global
    maxconn ${Math.max(256, members.length * 20)}
    stats socket ${path.join(dir, 'haproxy.sock')} mode 600 level admin
    stats timeout 1m
    server-state-base ${path.join(dir, 'haproxy', 'state')}

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout queue 5s
    option redispatch
    retries 2
    load-server-state-from-file local
${sections.join('')}`;
}

function clustersYaml(dir: string, members: Member[], options: FleetClustersOptions, env: NodeJS.ProcessEnv): string {
  const socket = path.join(dir, 'haproxy.sock');
  const map = path.join(dir, 'haproxy', 'maintenance.map');
  const toolImage = env.TOOLBOX_IMAGE ? `\n      toolImage: ${env.TOOLBOX_IMAGE}` : '';
  const pgBin = env.PGBIN ? `\n      pgBin: ${env.PGBIN}` : '';
  const entries = members.map(({ name, dbName, nodePorts, lbPort, options: cluster }, index) => {
    const labels = { fleet: options.prefix, ...options.labels?.(index + 1) };
    return `  ${name}:
    labels: ${JSON.stringify(labels)}
    nodes:
${nodePorts.map((port, i) => `      - name: node-${i + 1}
        dockerHost: ${cluster.dockerHost}
        container: ${name}-node-${i + 1}
        healthUrl: http://127.0.0.1:${port}/api/__health_check`).join('\n')}
    database:
      host: ${cluster.dbHost}
      port: ${cluster.dbPort}
      database: ${dbName}
      user: ${cluster.dbUser}
      passwordFile: ${env.DEMO_DB_PASSWORD_FILE}
    loadBalancer:
      runtimeApi: unix://${socket}
      backend: ${name}_nodes
      maintenanceMap: ${map}
      serverStateFile: ${path.join(dir, 'haproxy', 'state', `${name}_nodes`)}
      url: http://127.0.0.1:${lbPort}
    approval:
      approvers: ["alice"]
      allowProceedOnTimeout: ${options.allowProceedOnTimeout === true}
    backup:
      method: ${options.backupMethod ?? 'clone'}
      directory: ${path.join(dir, 'backups', name)}${pgBin}${toolImage}
    storage:
      dockerHost: ${cluster.dockerHost}
      volume: ${storageVolumeName(cluster)}
    timeouts:
      nodeReady: 2m
`;
  });
  return `# Generated by test/support/fleet-clusters.ts for one test run.\nclusters:\n${entries.join('')}`;
}

/** Creates the clusters (containers created, not started), the HAProxy and the config file. */
export async function createFleetClusters(options: FleetClustersOptions, env: NodeJS.ProcessEnv = process.env): Promise<FleetClusters> {
  const log = options.log ?? (() => undefined);
  const stackOptions = standinOptionsFromEnv(env);
  const base = options.postgres ? { ...stackOptions, pgAdminUrl: options.postgres.adminUrl, dbHost: options.postgres.host, dbPort: options.postgres.port } : stackOptions;
  const nodes = options.nodes ?? 2;
  const dir = path.join(env.STACK_DIR ?? path.join(ROOT, '.stack'), `fleet-${options.prefix}`);
  for (const sub of ['haproxy/state', 'events', 'backups']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  // The stand-in containers may run as another user and append their events here.
  fs.chmodSync(path.join(dir, 'events'), 0o1777);
  const ports = await freePorts(options.count * (nodes + 1));
  const members: Member[] = Array.from({ length: options.count }, (_, i) => {
    const name = `${options.prefix}-${i + 1}`;
    const nodePorts = ports.slice(i * (nodes + 1), i * (nodes + 1) + nodes);
    const dbName = `nocobase_${name.replace(/-/g, '_')}`;
    fs.mkdirSync(path.join(dir, 'backups', name), { recursive: true });
    return {
      name,
      dbName,
      nodePorts,
      lbPort: ports[i * (nodes + 1) + nodes]!,
      options: { ...base, cluster: name, dbName, nodePorts, image: options.image ?? base.image, eventsDir: path.join(dir, 'events'), seconds: { install: 1, upgrade: 1, plugin: 1 }, log },
    };
  });
  const taskQueue = `fleet-${options.prefix}-${randomUUID().slice(0, 8)}`;
  let haproxy: ChildProcess | undefined;
  const fixture: FleetClusters = {
    prefix: options.prefix,
    clusters: members.map((member) => member.name),
    dir,
    configFile: path.join(dir, 'clusters.yaml'),
    taskQueue,
    lbUrl: (cluster) => `http://127.0.0.1:${members.find((member) => member.name === cluster)?.lbPort}`,
    workerEnv: (extra = {}) => ({ ...env, NOCOBASE_MAINTENANCE_CONFIG: fixture.configFile, NOCOBASE_MAINTENANCE_TASK_QUEUE: taskQueue, ...extra }),
    startWorker: (extra) => startWorkerProcess(fixture.workerEnv(extra)),
    async bringUp(client) {
      const { firstStart } = await import('../../src/workflows');
      await Promise.all(fixture.clusters.map((cluster) => client.workflow.execute(firstStart, { taskQueue, workflowId: procedureWorkflowId(cluster), args: [{ cluster }] })));
    },
    async teardown() {
      if (haproxy && haproxy.exitCode === null) {
        haproxy.kill('SIGTERM');
        await once(haproxy, 'exit');
      }
      await removeMembers(base, members, log);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await inBatches(members, options.concurrency ?? 4, async (member) => {
      // Idempotent, so retried when another cluster's ALTER ROLE of the shared role raced it.
      for (let attempt = 1; ; attempt++) {
        try {
          await ensureDemoCluster(member.options);
          return;
        } catch (error) {
          if (attempt >= 10 || !/tuple concurrently updated/.test(String(error))) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        }
      }
    });
    fs.writeFileSync(path.join(dir, 'haproxy', 'maintenance.map'), members.map((member) => `${member.name} off\n`).join(''));
    const cfg = path.join(dir, 'haproxy', 'haproxy.cfg');
    fs.writeFileSync(cfg, haproxyConfig(dir, members));
    const logFile = fs.openSync(path.join(dir, 'haproxy.log'), 'a');
    haproxy = spawn('haproxy', ['-W', '-db', '-f', cfg], { stdio: ['ignore', logFile, logFile] });
    for (let i = 0; i < 100 && !fs.existsSync(path.join(dir, 'haproxy.sock')); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    if (!fs.existsSync(path.join(dir, 'haproxy.sock'))) throw new Error(`the fleet's HAProxy did not start: ${fs.readFileSync(path.join(dir, 'haproxy.log'), 'utf8')}`);
    fs.writeFileSync(fixture.configFile, clustersYaml(dir, members, options, env));
  } catch (error) {
    await fixture.teardown().catch(() => undefined);
    throw error;
  }
  return fixture;
}

/** Every container of the clusters (saved `-pre-` ones and storage helpers too), their volumes and databases. */
async function removeMembers(base: DemoClusterOptions, members: Member[], log: (line: string) => void): Promise<void> {
  const docker = dockerFromHost(base.dockerHost);
  const names = new Set(members.map((member) => member.name));
  const volumes = new Set(members.map((member) => storageVolumeName(member.options)));
  for (const info of await docker.listContainers({ all: true })) {
    const labelled = names.has(info.Labels?.['nocobase-maintenance.cluster'] ?? '');
    const mounts = info.Mounts?.some((mount) => mount.Name !== undefined && volumes.has(mount.Name)) ?? false;
    const named = info.Names.some((name) => members.some((member) => name.startsWith(`/${member.name}-node-`)));
    if (!labelled && !mounts && !named) continue;
    await docker.getContainer(info.Id).remove({ force: true }).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }
  for (const volume of volumes) {
    await docker.getVolume(volume).remove().catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }
  const admin = new Client({ connectionString: base.pgAdminUrl });
  await admin.connect();
  try {
    for (const member of members) {
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [member.dbName]);
      await admin.query(`DROP DATABASE IF EXISTS "${member.dbName}" WITH (FORCE)`);
      await dropDerivedDatabases(admin, member.dbName, log);
    }
  } finally {
    await admin.end();
  }
}

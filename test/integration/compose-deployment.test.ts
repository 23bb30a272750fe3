// docker-compose.yml as shipped, proven the other way round (this machine cannot pull the
// third-party images): the worker image is built from the Dockerfile, and the `worker` and
// `approvals` services run from it with exactly the command, environment and mounts the compose
// file gives them (read from it, mapped onto the stack by test/support/compose-on-stack.ts), next
// to an HAProxy started from deploy/compose/haproxy.cfg the same way, against the stack's
// Temporal, PostgreSQL, SMTP and Docker Engine and the stand-in nodes as the cluster `compose`.
// One addition to the worker's environment: a task queue of this run's own, so no other worker
// on the stack takes these runs (the compose worker polls the contract queue).
//
//   source .stack/env && node --import tsx --test test/integration/compose-deployment.test.ts
import type { Client, WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { parse, stringify } from 'yaml';
import { dockerFromHost, removeTag } from '../../scripts/stack/docker-build';
import { ensureNodeBaseImage } from '../../scripts/stack/node-base-image';
import { connectClient } from '../../src/client/connect';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { firstStart, versionUpgrade } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { freePort, hostPathOf, mapAddresses, readCompose, serviceBinds, serviceEnv, type StackMapping } from '../support/compose-on-stack';
import { until } from '../support/e2e-suite';
import { receivedMail } from '../support/maildir';
import { resetStandin, stackEnv } from '../support/stack';
import { awaitLogLine, buildWorkerImage, containerLogs, removeContainer } from '../support/worker-image';

const ROOT = path.join(__dirname, '..', '..');
const run = `${process.pid}-${Date.now().toString(36)}`;
const IMAGE = `nocobase-maintenance-worker:compose-${run}`;
const TASK_QUEUE = `compose-it-${run}`;
const WORKFLOW_ID = procedureWorkflowId('compose');
const APPROVER = 'ops@example.com';
const containerName = (service: string) => `nocobase-maintenance-compose-it-${service}-${run}`;
type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;

interface StackCluster {
  nodes: { container: string; healthUrl: string }[];
  database: { port: number; database: string };
  storage: { volume: string };
}

describe('docker-compose.yml as shipped: its worker and approvals services on the stack', () => {
  const compose = readCompose();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-it-'));
  let docker: Docker;
  let client: Client;
  let haproxy: ChildProcess | undefined;
  let mapping: StackMapping;
  let lbUrl = '';
  let pageUrl = '';

  /** The cluster config the compose file mounts, with the compose project's addresses made the stack's. */
  function translateClusters(addresses: Record<string, string>, lbPort: number): string {
    const stack = parse(fs.readFileSync(stackEnv().NOCOBASE_MAINTENANCE_CONFIG, 'utf8')) as { clusters: { standin: StackCluster } };
    const standin = stack.clusters.standin;
    const config = parse(fs.readFileSync(path.join(ROOT, 'deploy', 'compose', 'clusters.yaml'), 'utf8')) as {
      smtp: { host: string; port: number };
      approvals: { pageUrl: string };
      clusters: { compose: { nodes: { container: string; healthUrl: string }[]; database: Record<string, unknown>; loadBalancer: Record<string, string>; backup: Record<string, string>; storage: Record<string, string> } };
    };
    const [smtpHost, smtpPort] = addresses[`${config.smtp.host}:${config.smtp.port}`]!.split(':');
    config.smtp = { ...config.smtp, host: smtpHost!, port: Number(smtpPort) };
    config.approvals.pageUrl = mapAddresses(config.approvals.pageUrl, addresses);
    const cluster = config.clusters.compose;
    // The compose nodes are the stand-in's containers; the rest of each node's entry is kept.
    cluster.nodes = cluster.nodes.map((node, index) => ({ ...node, container: standin.nodes[index]!.container, healthUrl: standin.nodes[index]!.healthUrl }));
    const [dbHost, dbPort] = addresses[`${String(cluster.database.host)}:${String(cluster.database.port ?? 5432)}`]!.split(':');
    cluster.database = { ...cluster.database, host: dbHost, port: Number(dbPort), database: standin.database.database };
    // Paths as HAProxy sees them are where this run's HAProxy (on the host) has them.
    cluster.loadBalancer = { ...cluster.loadBalancer, url: `http://127.0.0.1:${lbPort}/`, maintenanceMap: hostPathOf(compose.services.haproxy!, mapping, cluster.loadBalancer.maintenanceMap!) };
    cluster.backup = { ...cluster.backup, toolImage: process.env.TOOLBOX_IMAGE ?? assert.fail('TOOLBOX_IMAGE is not in the environment') };
    // The compose nodes' storage volume is the stand-in's; a config without a storage: section stays without one.
    if (cluster.storage) cluster.storage = { ...cluster.storage, volume: standin.storage.volume };
    const file = path.join(work, 'clusters.yaml');
    fs.writeFileSync(file, stringify(config));
    return file;
  }

  /** HAProxy from deploy/compose/haproxy.cfg, its container paths and addresses made the host's, and its entrypoint's seeding done. */
  async function startHaproxy(addresses: Record<string, string>, lbPort: number): Promise<void> {
    const service = compose.services.haproxy!;
    const admin = hostPathOf(service, mapping, '/var/lib/haproxy');
    fs.mkdirSync(path.join(admin, 'state'), { recursive: true });
    const map = path.join(admin, 'maintenance.map');
    if (!fs.existsSync(map)) fs.copyFileSync(hostPathOf(service, mapping, '/usr/local/etc/haproxy/maintenance.map.seed'), map);
    const cfg = mapAddresses(fs.readFileSync(hostPathOf(service, mapping, '/usr/local/etc/haproxy/haproxy.cfg'), 'utf8'), addresses)
      .replace(/(\/var\/lib\/haproxy|\/usr\/local\/etc\/haproxy)(\/[^\s,)]*)?/g, (containerPath) => hostPathOf(service, mapping, containerPath))
      .replace(/^(\s*bind) :80$/m, `$1 127.0.0.1:${lbPort}`);
    const file = path.join(work, 'haproxy.cfg');
    fs.writeFileSync(file, cfg);
    let output = '';
    haproxy = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    haproxy.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until('HAProxy from the compose config answering', async () => {
      if (haproxy?.exitCode !== null) assert.fail(`haproxy exited: ${output}`);
      return fs.existsSync(path.join(admin, 'admin.sock')) ? (await fetch(`http://127.0.0.1:${lbPort}/`)).status : undefined;
    }, 20_000);
  }

  async function runService(name: 'worker' | 'approvals', extraEnv: string[] = []): Promise<void> {
    const service = compose.services[name]!;
    assert.ok(service.build !== undefined, `${name} is built from the Dockerfile`);
    const image = await docker.getImage(IMAGE).inspect();
    const container = await docker.createContainer({
      name: containerName(name),
      Image: IMAGE,
      Cmd: service.command ?? image.Config.Cmd,
      Env: [...serviceEnv(service, mapping), ...extraEnv],
      Labels: { 'nocobase-maintenance.test-fixture': 'compose-deployment' },
      HostConfig: { NetworkMode: 'host', Binds: serviceBinds(service, mapping) },
    });
    await container.start();
  }

  before(async () => {
    const env = stackEnv();
    docker = dockerFromHost(env.DOCKER_HOST);
    client = await connectClient();
    const lbPort = await freePort();
    const pagePort = await freePort();
    const [pageContainerPort] = compose.services.approvals!.ports![0]!.split(':').reverse();
    const standinPorts = (process.env.STANDIN_NODE_PORTS ?? '').split(' ');
    const pgPort = new URL(env.STANDIN_DATABASE_URL).port;
    const addresses: Record<string, string> = {
      'temporal:7233': env.TEMPORAL_ADDRESS,
      [`postgres:5432`]: `127.0.0.1:${pgPort}`,
      'mailpit:1025': `127.0.0.1:${process.env.SMTP_PORT}`,
      'haproxy:80': `127.0.0.1:${lbPort}`,
      // A published port: the page listens on a free port of the host, and its URL says so.
      [`localhost:${pageContainerPort}`]: `127.0.0.1:${pagePort}`,
      [`0.0.0.0:${pageContainerPort}`]: `127.0.0.1:${pagePort}`,
      ...Object.fromEntries(standinPorts.map((port, index) => [`app-${index + 1}:13000`, `127.0.0.1:${port}`])),
    };
    const codecKeyFile = /^([\w-]+)=file:(.+)$/.exec(process.env.NOCOBASE_MAINTENANCE_CODEC_KEYS ?? '');
    const volumes = Object.fromEntries(Object.keys(compose.volumes).map((volume) => [volume, path.join(work, 'volumes', volume)]));
    for (const dir of Object.values(volumes)) fs.mkdirSync(dir, { recursive: true });
    mapping = {
      dotenv: {
        NOCOBASE_DB_PASSWORD: fs.readFileSync(process.env.DEMO_DB_PASSWORD_FILE!, 'utf8').trim(),
        // The stack encrypts payloads: its key, given the way the compose file's comment says.
        ...(codecKeyFile ? { NOCOBASE_MAINTENANCE_CODEC_KEYS: `${codecKeyFile[1]}=env:CODEC_KEY_1`, CODEC_KEY_1: fs.readFileSync(codecKeyFile[2]!, 'utf8').trim() } : {}),
        APPROVAL_SIGNING_KEY: randomBytes(32).toString('hex'),
      },
      addresses,
      volumes,
      hostPaths: { '/var/run/docker.sock': new URL(env.DOCKER_HOST).pathname },
      files: {},
    };
    mapping.files['./deploy/compose/clusters.yaml'] = translateClusters(addresses, lbPort);
    pageUrl = `http://127.0.0.1:${pagePort}`;
    lbUrl = `http://127.0.0.1:${lbPort}/`;

    await resetStandin();
    await startHaproxy(addresses, lbPort);
    const base = await ensureNodeBaseImage({ dockerHost: env.DOCKER_HOST, log: () => undefined });
    await buildWorkerImage(docker, IMAGE, base.image);
    await runService('worker', [`NOCOBASE_MAINTENANCE_TASK_QUEUE=${TASK_QUEUE}`]);
    await runService('approvals');
    await awaitLogLine(docker, containerName('worker'), `worker polling task queue ${TASK_QUEUE}`);
    await awaitLogLine(docker, containerName('approvals'), 'approval page listening');
  });

  after(async () => {
    for (const service of ['worker', 'approvals']) await removeContainer(docker, containerName(service));
    await removeTag(docker, IMAGE).catch(() => undefined);
    haproxy?.kill('SIGTERM');
    await client?.workflow.getHandle(WORKFLOW_ID).terminate('compose test ends').catch(() => undefined);
    await client?.connection.close();
    await resetStandin();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const failureWithLogs = async (error: unknown) => {
    const logs = await containerLogs(docker, containerName('worker')).catch(() => '(no logs)');
    throw new Error(`${String(error)} ${String((error as Error).cause ?? '')}\n--- worker container logs ---\n${logs.slice(-6000)}`);
  };

  /** An upgrade of `compose`, once the approver's mail with its links arrived. */
  async function upgradeAwaitingDecision(): Promise<{ handle: Upgrade; approve: string; reject: string }> {
    const handle = (await client.workflow.start(versionUpgrade, { taskQueue: TASK_QUEUE, workflowId: WORKFLOW_ID, args: [{ cluster: 'compose', image: stackEnv().STANDIN_IMAGE_V2 }] })) as Upgrade;
    const { runId } = await handle.describe();
    const links = await until(`${APPROVER}'s mail for run ${runId}`, async () => {
      for (const mail of receivedMail(stackEnv().SMTP_MAILDIR)) {
        if (mail.to !== APPROVER || !mail.body.includes(runId)) continue;
        const approve = /Approve: (http\S+)/.exec(mail.body)?.[1];
        const reject = /Reject: (http\S+)/.exec(mail.body)?.[1];
        if (approve && reject) return { approve, reject };
      }
      return undefined;
    }, 240_000).catch(failureWithLogs);
    return { handle, ...links };
  }

  /** The approvals service: the GET shows the run at verify and decides nothing, the POST decides. */
  async function decideOnPage(handle: Upgrade, link: string, decision: 'approve' | 'reject'): Promise<void> {
    assert.ok(link.startsWith(`${pageUrl}/a/`), `the mail links to ${link}, not to the approvals service`);
    const shown = await fetch(link);
    const page = await shown.text();
    assert.equal(shown.status, 200, page);
    assert.match(page, /id="step"[^>]*>verify</, 'the page read the (encrypted) status');
    assert.equal((await handle.query(statusQuery)).approval?.state, 'awaiting', 'the GET decided nothing');
    const posted = await fetch(link.split('?')[0]!, { method: 'POST', body: new URLSearchParams({ decision, note: `${decision} on the compose page` }) });
    assert.equal(posted.status, 200, await posted.text());
  }

  it('starts the worker from the workflow bundle built with the image, and checks its pg_dump against the server', async () => {
    const logs = await containerLogs(docker, containerName('worker'));
    assert.match(logs, /workflow bundle loaded \(built before\): \/app\/\.workflow-bundles\//, 'no bundling at start');
    assert.doesNotMatch(logs, /pg_dump|cannot be reached/, 'the image\'s pg_dump can dump the stack\'s server, which answered');
  });

  it('first-starts the cluster through the worker container: LB 200, the map written through the shared volume', async () => {
    const started = await client.workflow.execute(firstStart, { taskQueue: TASK_QUEUE, workflowId: WORKFLOW_ID, args: [{ cluster: 'compose' }] }).catch(failureWithLogs);
    assert.equal(started.cluster, 'compose');
    assert.equal((await fetch(lbUrl)).status, 200);
    assert.match(fs.readFileSync(path.join(mapping.volumes['haproxy-admin']!, 'maintenance.map'), 'utf8'), /^compose off$/m);
  });

  it('rejects an upgrade from the approvals service: rolled back from the backup in the backups volume, v1 serving', async () => {
    const { handle, reject } = await upgradeAwaitingDecision();
    assert.equal((await fetch(lbUrl)).status, 503, 'the maintenance page while the decision waits');
    await decideOnPage(handle, reject, 'reject');
    const result = await handle.result().catch(failureWithLogs);
    assert.equal(result.outcome, 'rolled-back');
    assert.equal(result.decision?.how, 'link');
    assert.equal((await fetch(lbUrl)).status, 200);
    const images = await Promise.all([1, 2, 3].map(async (index) => (await docker.getContainer(`standin-node-${index}`).inspect()).Config.Image));
    assert.deepEqual(images, Array(3).fill(stackEnv().STANDIN_IMAGE_V1));
    // The worker's backup.directory is the compose file's named volume: the dump and the storage archive are in it.
    const backups = fs.readdirSync(mapping.volumes.backups ?? assert.fail('docker-compose.yml has no backups volume'), { recursive: true }) as string[];
    assert.ok(backups.some((file) => /^compose-.*\.storage\.tar$/.test(path.basename(file))), `no storage archive of compose in the backups volume: ${backups.join(', ')}`);
    assert.ok(backups.some((file) => /^compose-.*\.dump$/.test(path.basename(file))), `no pg_dump file of compose in the backups volume: ${backups.join(', ')}`);
    assert.deepEqual(result.backup?.method, 'pg_dump');
  });

  it('approves an upgrade from the approvals service: every node on v2, LB 200', async () => {
    const { handle, approve } = await upgradeAwaitingDecision();
    await decideOnPage(handle, approve, 'approve');
    const result = await handle.result().catch(failureWithLogs);
    assert.equal(result.outcome, 'upgraded');
    assert.equal(result.decision?.by, APPROVER);
    assert.equal((await fetch(lbUrl)).status, 200);
    const images = await Promise.all([1, 2, 3].map(async (index) => (await docker.getContainer(`standin-node-${index}`).inspect()).Config.Image));
    assert.deepEqual(images, Array(3).fill(stackEnv().STANDIN_IMAGE_V2));
  });
});

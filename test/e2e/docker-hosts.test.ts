// test-lane: exclusive
// (It moves standin-node-2 onto the stack's TLS dockerd for its duration: no other stand-in test
// may run beside it. Everything goes back in `after`.)
import type { Client, WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import type Docker from 'dockerode';
import { connectDocker } from '../../src/adapters/docker/connection';
import { ensureImage } from '../../src/adapters/docker/image-pull';
import { connectClient } from '../../src/client/connect';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { loadConfig } from '../../src/config/load';
import { firstStart, versionUpgrade } from '../../src/workflows';
import { approveSignal, rejectSignal, statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { nodeContainerSpec } from '../../scripts/stack/demo-cluster';
import { fingerprint } from '../support/business-data';
import { until } from '../support/e2e-suite';
import { remoteDockerEnv, type RemoteDockerEnv } from '../support/remote-docker';
import { resetStandin, stackEnv, standinOptions } from '../support/stack';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;
const workflowId = procedureWorkflowId('standin');
const STORAGE_VOLUME = 'standin-storage';
const CLUSTER_LABEL = 'nocobase-maintenance.cluster=standin';

/** The stack's TLS dockerd through its local socket: set-up and clean-up only, never the worker's way in. */
function tlsEngineBySocket(remote: RemoteDockerEnv): Docker {
  return connectDocker(remote.tlsSocket);
}

/**
 * standin-node-2 moved from the main dockerd to the TLS one: same name, same create spec, same
 * host port (host networking), and the shared storage volume bound to the main volume's
 * directory so both Engines' containers see one storage.
 */
async function moveNode2ToTlsEngine(main: Docker, tls: Docker): Promise<void> {
  const mountpoint = (await main.getVolume(STORAGE_VOLUME).inspect()).Mountpoint;
  await main.getContainer('standin-node-2').remove({ force: true });
  await clearTlsEngine(tls);
  await tls.createVolume({ Name: STORAGE_VOLUME, Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: mountpoint }, Labels: { 'nocobase-maintenance.cluster': 'standin' } });
  const spec = nodeContainerSpec(standinOptions(), 2);
  await ensureImage(tls, String(spec.Image), { dockerHost: 'the TLS dockerd' });
  await tls.createContainer(spec);
}

/** Every stand-in container (saved ones too) and the bound volume off the TLS dockerd. */
async function clearTlsEngine(tls: Docker): Promise<void> {
  for (const info of await tls.listContainers({ all: true, filters: { label: [CLUSTER_LABEL] } })) await tls.getContainer(info.Id).remove({ force: true });
  for (const info of await tls.listContainers({ all: true, filters: { name: ['standin-'] } })) await tls.getContainer(info.Id).remove({ force: true });
  await tls.getVolume(STORAGE_VOLUME).remove().catch(() => undefined);
}

/** The stack's config with the stand-in's node-2 on the TLS host and node-3 on the SSH host. */
function spanningConfig(remote: RemoteDockerEnv, dir: string): string {
  const source = stackEnv().NOCOBASE_MAINTENANCE_CONFIG;
  const config = parse(readFileSync(source, 'utf8')) as { dockerHosts?: Record<string, unknown>; clusters: Record<string, { nodes: { dockerHost: string }[] }> };
  config.dockerHosts = {
    ...config.dockerHosts,
    [remote.tlsHost]: { tls: { certPath: remote.tlsCerts } },
    [remote.sshHost]: { ssh: { keyFile: remote.sshKey, hostKey: remote.sshHostKey } },
  };
  const nodes = config.clusters.standin!.nodes;
  nodes[1]!.dockerHost = remote.tlsHost;
  nodes[2]!.dockerHost = remote.sshHost;
  const file = join(dir, 'clusters.yaml');
  writeFileSync(file, stringify(config));
  loadConfig(file); // valid, or fail here rather than in the worker's start
  return file;
}

describe('a stand-in cluster spanning the local socket, a TLS Docker host and an SSH Docker host, through the real worker process', () => {
  let remote: RemoteDockerEnv;
  let main: Docker;
  let tls: Docker;
  let dir: string;
  let worker: WorkerProcess | undefined;
  let client: Client;
  const queue = `nocobase-maintenance-docker-hosts-${process.pid}`;

  /** Each node's image, asked on the Engine each one lives on (node-2's only exists on the TLS dockerd). */
  async function imagesPerHost(): Promise<Record<string, string>> {
    const inspect = async (docker: Docker, name: string) => (await docker.getContainer(name).inspect()).Config.Image;
    return { 'node-1 (socket)': await inspect(main, 'standin-node-1'), 'node-2 (TLS)': await inspect(tls, 'standin-node-2'), 'node-3 (SSH)': await inspect(main, 'standin-node-3') };
  }

  async function startUpgrade(): Promise<Upgrade> {
    return (await client.workflow.start(versionUpgrade, { taskQueue: queue, workflowId, args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2 }] })) as Upgrade;
  }

  async function awaitingDecision(handle: Upgrade): Promise<void> {
    await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined), 180_000);
  }

  /** SSH logins the stack's sshd accepted so far: node-3's commands must arrive through it. */
  function sshLogins(): number {
    const log = readFileSync(join(process.env.STACK_DIR ?? assert.fail('STACK_DIR is not in the environment'), 'logs', 'sshd.log'), 'utf8');
    return log.split('\n').filter((line) => line.startsWith('Accepted publickey for root')).length;
  }

  async function servedVersion(): Promise<string | null> {
    const response = await fetch(stackEnv().STANDIN_LB_URL);
    assert.equal(response.status, 200);
    return response.headers.get('x-standin-version');
  }

  before(async () => {
    remote = remoteDockerEnv();
    main = connectDocker(stackEnv().DOCKER_HOST);
    tls = tlsEngineBySocket(remote);
    dir = mkdtempSync(join(tmpdir(), 'docker-hosts-e2e-'));
    client = await connectClient();
    await client.workflow.getHandle(workflowId).terminate('the docker-hosts e2e test needs the standin cluster').catch(() => undefined);
    await resetStandin();
    await moveNode2ToTlsEngine(main, tls);
    // The worker's own DOCKER_* point at the TLS dockerd and work: were they merged into a
    // configured host, node-1's and node-3's commands would go there and find no container.
    worker = await startWorkerProcess({
      ...process.env,
      NOCOBASE_MAINTENANCE_CONFIG: spanningConfig(remote, dir),
      NOCOBASE_MAINTENANCE_TASK_QUEUE: queue,
      DOCKER_HOST: remote.tlsHost,
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: remote.tlsCerts,
    });
    await client.workflow.execute(firstStart, { taskQueue: queue, workflowId, args: [{ cluster: 'standin' }] });
  });

  after(async () => {
    try {
      await client?.workflow.getHandle(workflowId).terminate('the docker-hosts e2e test ended').catch(() => undefined);
      await worker?.stop();
      await client?.connection.close();
    } finally {
      // node-2 back on the main dockerd exactly as stack:up makes it (reset recreates it there).
      await clearTlsEngine(tls);
      await resetStandin();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rolls back image and data on every host when the upgrade is rejected', async () => {
    assert.deepEqual(Object.values(await imagesPerHost()), [1, 2, 3].map(() => stackEnv().STANDIN_IMAGE_V1));
    assert.equal(await servedVersion(), '1.6.0');
    await assert.rejects(main.getContainer('standin-node-2').inspect(), 'node-2 lives on the TLS dockerd only');
    const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    const loginsBefore = sshLogins();
    const handle = await startUpgrade();
    await awaitingDecision(handle);
    assert.equal((await fingerprint(stackEnv().STANDIN_DATABASE_URL)).version, '1.7.0', 'node-1 migrated the data');
    await handle.signal(rejectSignal, { by: 'ops@demo.test', reason: 'checking the rollback across hosts' });
    const result = await handle.result();

    assert.equal(result.outcome, 'rolled-back');
    assert.deepEqual(await imagesPerHost(), { 'node-1 (socket)': stackEnv().STANDIN_IMAGE_V1, 'node-2 (TLS)': stackEnv().STANDIN_IMAGE_V1, 'node-3 (SSH)': stackEnv().STANDIN_IMAGE_V1 });
    assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before);
    assert.equal(await servedVersion(), '1.6.0');
    assert.ok(sshLogins() > loginsBefore, 'node-3 was driven through the SSH host');
  });

  it('upgrades every host once approved: the new image pulled and run on each, data migrated, the load balancer serving', async () => {
    const loginsBefore = sshLogins();
    const handle = await startUpgrade();
    await awaitingDecision(handle);
    await handle.signal(approveSignal, { by: 'alice', comment: 'across three kinds of Docker host' });
    const result = await handle.result();

    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual(await imagesPerHost(), { 'node-1 (socket)': stackEnv().STANDIN_IMAGE_V2, 'node-2 (TLS)': stackEnv().STANDIN_IMAGE_V2, 'node-3 (SSH)': stackEnv().STANDIN_IMAGE_V2 });
    const data = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    assert.equal(data.version, '1.7.0');
    assert.equal(data.orders, 50, 'no business row lost');
    assert.equal(await servedVersion(), '1.7.0');
    assert.ok(sshLogins() > loginsBefore, 'node-3 was driven through the SSH host');
    for (const name of ['standin-node-1', 'standin-node-2', 'standin-node-3']) {
      assert.equal((await (name === 'standin-node-2' ? tls : main).getContainer(name).inspect()).State.Running, true, `${name} runs`);
    }
  });
});

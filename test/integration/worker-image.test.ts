// The worker image, built from the repo's own Dockerfile as docker-compose.yml builds it, then run
// as the worker against the local stack. This machine cannot pull node:20-bookworm-slim, so the
// Dockerfile's NODE_IMAGE is a base made from the host (scripts/stack/node-base-image.ts); its
// `npm ci` reaches the npm registry through host networking, like every container here.
//
//   source .stack/env && node --import tsx --test test/integration/worker-image.test.ts
//
// The containerised worker polls a task queue of its own and runs a firstStart *dry run* of the
// demo cluster's nodes and database, which reads them and changes nothing. Procedures refuse any
// workflow ID but maintenance-<cluster>, and maintenance-standin belongs to the suites that drive the
// demo cluster, so the container's config names those same nodes as a cluster of this run's own.
// How long each build took is printed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type Docker from 'dockerode';
import { parse, stringify } from 'yaml';
import { dockerFromHost, removeTag } from '../../scripts/stack/docker-build';
import { ensureNodeBaseImage, NODE_BASE_IMAGE } from '../../scripts/stack/node-base-image';
import { connectClient, temporalEndpoint } from '../../src/client/connect';
import { procedureWorkflowId } from '../../src/common/task-queue';
import type { DryRunPlan } from '../../src/workflows/dry-run';
import { stackEnv } from '../support/stack';
import { firstStart } from '../../src/workflows';
import { buildWorkerImage as buildImageFrom, containerLogs as logsOf } from '../support/worker-image';

const buildWorkerImage = (docker: Docker, base: string) => buildImageFrom(docker, WORKER_IMAGE, base);
const containerLogs = (docker: Docker) => logsOf(docker, CONTAINER);

const run = `${process.pid}-${Date.now().toString(36)}`;
const WORKER_IMAGE = `nocobase-maintenance-worker:it-${run}`;
const CONTAINER = `nocobase-maintenance-worker-it-${run}`;
const TASK_QUEUE = `worker-image-it-${run}`;
const CLUSTER = `wi-${run}`;
const started = Date.now();
// NonRecursive (Engine API 1.40+) is missing from @types/dockerode's BindOptions.
const NON_RECURSIVE = { NonRecursive: true } as unknown as { Propagation: Docker.MountPropagation };

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** The stack's config with its demo cluster renamed CLUSTER, and no other: the worker knows no "demo". */
function writeConfig(dir: string): string {
  const config = parse(fs.readFileSync(stackEnv().NOCOBASE_MAINTENANCE_CONFIG, 'utf8')) as { clusters: Record<string, unknown> };
  const file = path.join(dir, 'clusters.yaml');
  // The image has its own pg_dump on the PATH (checked against the server at start); the stack's
  // backup.pgBin is a directory of the host, not of the container.
  const standin = structuredClone(config.clusters.standin) as { backup?: { pgBin?: string } };
  if (standin.backup) delete standin.backup.pgBin;
  fs.writeFileSync(file, stringify({ ...config, clusters: { [CLUSTER]: standin } }));
  return file;
}

/** The container's own view of the stack: host network, and the paths the config names. */
async function startWorkerContainer(docker: Docker, configDir: string): Promise<void> {
  const env = stackEnv();
  const stackDir = process.env.STACK_DIR ?? path.dirname(env.NOCOBASE_MAINTENANCE_CONFIG);
  const socket = new URL(env.DOCKER_HOST).pathname;
  const config = writeConfig(configDir);
  const container = await docker.createContainer({
    name: CONTAINER,
    Image: WORKER_IMAGE,
    Env: [
      `TEMPORAL_ADDRESS=${env.TEMPORAL_ADDRESS}`,
      `TEMPORAL_NAMESPACE=${env.TEMPORAL_NAMESPACE}`,
      `NOCOBASE_MAINTENANCE_CONFIG=${config}`,
      `NOCOBASE_MAINTENANCE_TASK_QUEUE=${TASK_QUEUE}`,
      // The stack encrypts payloads (its key file is under the stack dir mounted below): the image's
      // worker must read what this test's client encrypted.
      ...(process.env.NOCOBASE_MAINTENANCE_CODEC_KEYS ? [`NOCOBASE_MAINTENANCE_CODEC_KEYS=${process.env.NOCOBASE_MAINTENANCE_CODEC_KEYS}`] : []),
    ],
    Labels: { 'nocobase-maintenance.test-fixture': 'worker-image' },
    HostConfig: {
      NetworkMode: 'host',
      Mounts: [
        { Type: 'bind', Source: configDir, Target: configDir, ReadOnly: true },
        // The password file and the sockets the config names all live in the stack dir. Not
        // recursive, so read-only throughout: this engine leaves submounts of a read-only bind
        // (dockerd's own bind of its data root, below the stack dir) writable.
        { Type: 'bind', Source: stackDir, Target: stackDir, ReadOnly: true, BindOptions: NON_RECURSIVE },
        { Type: 'bind', Source: socket, Target: socket },
      ],
    },
  });
  await container.start();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const logs = await containerLogs(docker);
    if (logs.includes(`worker polling task queue ${TASK_QUEUE}`)) return;
    const { State } = await container.inspect();
    if (!State.Running) throw new Error(`the worker container exited with ${State.ExitCode} before polling:\n${logs}`);
    if (Date.now() > deadline) throw new Error(`the worker container did not poll ${TASK_QUEUE} within 120 s:\n${logs}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('the worker image built from the Dockerfile on a base made from the host', () => {
  let docker: Docker;
  let client: Client;
  let workerImageBuilt = false;
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-image-it-'));

  before(async () => {
    docker = dockerFromHost(stackEnv().DOCKER_HOST);
    client = await connectClient(temporalEndpoint());
  });

  after(async () => {
    await docker.getContainer(CONTAINER).remove({ force: true }).catch((error: unknown) => {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    });
    await removeTag(docker, WORKER_IMAGE);
    await client?.connection.close();
    fs.rmSync(configDir, { recursive: true, force: true });
  });

  it('makes the base once per content of the host files it is made of', async (t) => {
    const since = Date.now();
    const base = await ensureNodeBaseImage({ dockerHost: stackEnv().DOCKER_HOST, log: () => undefined });
    t.diagnostic(`base ${base.built ? 'built' : 'already there'} in ${seconds(since)} (build ${base.hash})`);
    assert.equal(base.image, NODE_BASE_IMAGE);
    const again = await ensureNodeBaseImage({ dockerHost: stackEnv().DOCKER_HOST, log: () => undefined });
    assert.deepEqual(again, { ...base, built: false });
  });

  it('builds the Dockerfile with NODE_IMAGE set to that base, npm ci included', async (t) => {
    const since = Date.now();
    await buildWorkerImage(docker, NODE_BASE_IMAGE);
    workerImageBuilt = true;
    t.diagnostic(`worker image built in ${seconds(since)}`);
    const { Config } = await docker.getImage(WORKER_IMAGE).inspect();
    assert.deepEqual(Config.Cmd, ['node_modules/.bin/tsx', 'src/worker/main.ts']);
    assert.equal(Config.WorkingDir, '/app');
  });

  it('runs as the worker: a firstStart dry run on its task queue returns the plan for the demo nodes', async (t) => {
    assert.ok(workerImageBuilt, 'the worker image was not built (see the test before)');
    const since = Date.now();
    await startWorkerContainer(docker, configDir);
    t.diagnostic(`worker container polling after ${seconds(since)}`);
    const handle = await client.workflow.start(firstStart, {
      taskQueue: TASK_QUEUE,
      workflowId: procedureWorkflowId(CLUSTER),
      args: [{ cluster: CLUSTER, dryRun: true }],
      workflowExecutionTimeout: '3 minutes', // ends by itself if the container never answers
    });
    const plan = (await handle.result().catch(async (error: unknown) => {
      const cause = (error as Error).cause ? ` (${String((error as Error).cause)})` : '';
      throw new Error(`the dry run failed: ${String(error)}${cause}\n--- worker container logs ---\n${await containerLogs(docker)}`);
    })) as DryRunPlan;

    assert.equal(plan.dryRun, true);
    assert.equal(plan.procedure, 'firstStart');
    assert.equal(plan.cluster, CLUSTER);
    // Read through the mounted Docker socket, from inside the container.
    assert.deepEqual(plan.nodes.map(({ name, container }) => ({ name, container })), [
      { name: 'node-1', container: 'standin-node-1' },
      { name: 'node-2', container: 'standin-node-2' },
      { name: 'node-3', container: 'standin-node-3' },
    ]);
    // The plan may list problems of the stand-in cluster's current state, never unreachable components.
    assert.deepEqual(plan.problems.filter((problem) => /ECONNREFUSED|ENOENT|EACCES|ETIMEDOUT/.test(problem)), []);
    t.diagnostic(`whole file so far: ${seconds(started)}`);
  });
});

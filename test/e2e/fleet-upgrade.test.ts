// test-lane: nocobase
import type { Client } from '@temporalio/client';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connectClient } from '../../src/client/connect';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { fleetWorkflowId } from '../../src/procedures/fleet-upgrade';
import type { FleetUpgradeResult } from '../../src/workflows/fleet-upgrade';
import { fleetStatusQuery, type FleetStatus } from '../../src/workflows/messages';
import { fleetUpgrade } from '../../src/workflows';
import { dockerFromHost } from '../../scripts/stack/docker-build';
import { until } from '../support/e2e-suite';
import { createFleetClusters, type FleetClusters } from '../support/fleet-clusters';
import { README, readmeCommandsRunBy } from '../support/readme-commands';
import { stackEnv } from '../support/stack';
import type { WorkerProcess } from '../support/worker-process';

// Fleet upgrades on five small REAL stand-in clusters of their own (2 nodes each, their own
// databases, volumes, ports and HAProxy: test/support/fleet-clusters.ts), driven by the README's
// own commands. The stack's `demo` and `standin` clusters are not touched.

const run = promisify(execFile);
const env = stackEnv();
const prefix = `fl${randomUUID().slice(0, 6)}`;
const [c1, c2, c3, c4, c5] = [1, 2, 3, 4, 5].map((i) => `${prefix}-${i}`) as [string, string, string, string, string];
let fleet: FleetClusters;
let worker: WorkerProcess;
let client: Client;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;

before(async () => {
  // Clusters 1-4 are the README's `region: eu`; cluster 5 is the canary that breaks.
  fleet = await createFleetClusters({ prefix, count: 5, labels: (i) => ({ region: i <= 4 ? 'eu' : 'us' }) });
  worker = await fleet.startWorker();
  client = await connectClient();
  await fleet.bringUp(client);
  console.log(`fleet e2e: 5 clusters up on ${env.STANDIN_IMAGE_V1} after ${elapsed()}`);
});

after(async () => {
  for (const id of [fleetWorkflowId(prefix), fleetWorkflowId(`${prefix}-canary`), ...[c1, c2, c3, c4, c5].map(procedureWorkflowId)]) {
    await client?.workflow.getHandle(id).terminate('fleet e2e test ends').catch(() => undefined);
  }
  await client?.schedule.getHandle(`${prefix}-window`).delete().catch(() => undefined);
  await worker?.stop().catch(() => undefined);
  await client?.connection.close();
  await fleet?.teardown();
  console.log(`fleet e2e: torn down after ${elapsed()}`);
});

/** The README's fleet lines, made to name this run's fleet, clusters, task queue and images. */
function readmeLines(): string[] {
  // FLEET_README_DRAFT: the section before it is merged into README.md.
  const markdown = fs.readFileSync(process.env.FLEET_README_DRAFT ?? README, 'utf8');
  const lines = readmeCommandsRunBy('test/e2e/fleet-upgrade.test.ts', markdown);
  assert.ok(lines.length >= 8, `the README's fleet blocks (${lines.length} lines) are marked as run by this test`);
  return lines.map((line) =>
    line
      .replaceAll('--task-queue nocobase-maintenance', `--task-queue ${fleet.taskQueue}`)
      .replaceAll('fleet-eu-window', `${prefix}-window`)
      .replaceAll('fleet-eu', fleetWorkflowId(prefix))
      .replaceAll('"name":"eu"', `"name":"${prefix}"`)
      .replaceAll('maintenance-eu-1', procedureWorkflowId(c1))
      .replaceAll('"cluster":"eu-3"', `"cluster":"${c3}"`)
      .replaceAll('registry.example.com/nocobase:1.7.0', env.STANDIN_IMAGE_V2),
  );
}

async function sh(command: string): Promise<string> {
  const { stdout } = await run('bash', ['-c', command], { env: { ...process.env, PATH: `${dirname(process.env.TEMPORAL_BIN ?? '/usr/bin/temporal')}:${process.env.PATH ?? ''}` } });
  return stdout;
}

function line(lines: string[], pattern: RegExp): string {
  const found = lines.find((candidate) => pattern.test(candidate));
  assert.ok(found, `no README line matches ${pattern}`);
  return found;
}

async function status(what: string, test: (now: FleetStatus) => boolean, timeoutMs = 90_000): Promise<FleetStatus> {
  const handle = client.workflow.getHandle(fleetWorkflowId(prefix));
  return until(what, async () => {
    const now = await handle.query(fleetStatusQuery);
    return test(now) ? now : undefined;
  }, timeoutMs);
}

/** The images of the cluster's node containers (not the saved `-pre-` ones). */
async function nodeImages(cluster: string): Promise<string[]> {
  const containers = await dockerFromHost(env.DOCKER_HOST).listContainers({ all: true, filters: { label: [`nocobase-maintenance.cluster=${cluster}`] } });
  return containers.filter((info) => info.Names.some((name) => /-node-\d+$/.test(name))).map((info) => info.Image).sort();
}

describe('fleetUpgrade on real stand-in clusters', () => {
  it('stops at a canary that fails on a broken image and touches no other cluster', async () => {
    const name = `${prefix}-canary`;
    const result = (await client.workflow.execute(fleetUpgrade, {
      taskQueue: fleet.taskQueue,
      workflowId: fleetWorkflowId(name),
      args: [{ name, clusters: [c5, c1], canary: c5, image: env.STANDIN_IMAGE_V2, images: { [c5]: env.STANDIN_IMAGE_BROKEN } }],
    })) as FleetUpgradeResult;
    assert.equal(result.outcome, 'stopped');
    assert.equal(result.clusters[c5]!.state, 'failed');
    assert.equal(result.clusters[c5]!.type, 'NodeFailed');
    assert.match(result.clusters[c5]!.reason ?? '', /APP_ERROR|failed/);
    assert.equal(result.clusters[c1]!.state, 'not-started');
    // The canary was rolled back to v1; the other cluster's last procedure is still its first start.
    assert.deepEqual(await nodeImages(c5), [env.STANDIN_IMAGE_V1, env.STANDIN_IMAGE_V1]);
    assert.equal((await client.workflow.getHandle(procedureWorkflowId(c1)).describe()).type, 'firstStart');
    assert.deepEqual(await nodeImages(c1), [env.STANDIN_IMAGE_V1, env.STANDIN_IMAGE_V1]);
    console.log(`fleet e2e: canary rolled back after ${elapsed()}`);
  });

  it("upgrades the README's fleet wave by wave with approvals, through a worker kill, a pause and a skip", async () => {
    const lines = readmeLines();
    const approveChild = line(lines, /--workflow-id maintenance-\S+ --name approve/);
    const approveChildOf = (cluster: string) => approveChild.replace(procedureWorkflowId(c1), procedureWorkflowId(cluster));
    await sh(line(lines, /workflow start --type fleetUpgrade/));
    assert.match(await sh(line(lines, /workflow query .* --name status/)), /"waves"|waves/);

    // Wave 1, the canary: its own upgrade waits at verify, and the fleet says so.
    await status(`${c1} awaiting its decision`, (now) => now.awaitingDecision.includes(c1));
    await sh(approveChildOf(c1));
    await status('the approval before wave 2', (now) => now.state === 'awaiting-approval' && now.wave === 1 && now.clusters[c1]?.state === 'upgraded');
    await sh(line(lines, /--workflow-id fleet-\S+ --name approve/));

    // Wave 2 runs; the worker is killed in the middle of it and a new one takes over.
    await status(`${c2} running`, (now) => now.clusters[c2]?.state === 'running');
    await sh(line(lines, /--name pause/));
    await worker.kill();
    worker = await fleet.startWorker();
    console.log(`fleet e2e: worker replaced mid-wave after ${elapsed()}`);
    await status(`${c2} awaiting its decision`, (now) => now.awaitingDecision.includes(c2), 120_000);
    await sh(approveChildOf(c2));
    const paused = await status(`${c2} upgraded while the fleet is paused`, (now) => now.clusters[c2]?.state === 'upgraded');
    assert.equal(paused.state, 'paused');
    assert.equal(paused.clusters[c3]?.state, 'pending');
    await sh(line(lines, /--name skip/));
    await sh(line(lines, /--name resume/));
    // Wave 3 was the skipped cluster alone: wave 4 is asked for next.
    await status('the approval before wave 4', (now) => now.state === 'awaiting-approval' && now.wave === 3);
    assert.equal(await nodeImages(c3).then((images) => images[0]), env.STANDIN_IMAGE_V1);
    await sh(line(lines, /--workflow-id fleet-\S+ --name approve/));
    await status(`${c4} awaiting its decision`, (now) => now.awaitingDecision.includes(c4));
    await sh(approveChildOf(c4));
    const result = JSON.stringify(await sh(line(lines, /workflow result/)));
    const final = (await client.workflow.getHandle(fleetWorkflowId(prefix)).result()) as FleetUpgradeResult;
    assert.equal(final.outcome, 'completed', result);
    assert.deepEqual([c1, c2, c3, c4].map((cluster) => final.clusters[cluster]?.state), ['upgraded', 'upgraded', 'skipped', 'upgraded']);
    assert.deepEqual(final.decisions.map((decision) => decision.by), ['alice', 'alice']);
    assert.deepEqual(final.controls.map((control) => control.action), ['pause', 'skip', 'resume']);
    for (const cluster of [c1, c2, c4]) assert.deepEqual(await nodeImages(cluster), [env.STANDIN_IMAGE_V2, env.STANDIN_IMAGE_V2]);
    assert.deepEqual(await nodeImages(c3), [env.STANDIN_IMAGE_V1, env.STANDIN_IMAGE_V1]);
    const page = await fetch(fleet.lbUrl(c2));
    assert.equal(page.headers.get('x-standin-version'), '1.7.0');

    // The README's maintenance window: created, described, and removed again.
    await sh(line(lines, /schedule create/));
    assert.match(await sh(line(lines, /schedule describe/)), /fleetUpgrade/);
    console.log(`fleet e2e: README fleet completed after ${elapsed()}`);
  });
});

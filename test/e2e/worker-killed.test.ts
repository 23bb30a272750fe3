import type { WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client as PgClient } from 'pg';
import { taskQueue } from '../../src/client/task-queue';
import { UPGRADE_STEPS } from '../../src/procedures/version-upgrade';
import { approveSignal, rejectSignal, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { versionUpgrade } from '../../src/workflows';
import { fingerprint } from '../support/business-data';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { recreateStandinNode, stackDeps, stackEnv, standinOptions } from '../support/stack';
import { standinStorageListing } from '../support/storage-listing';
import { startWorkerProcess } from '../support/worker-process';

type E2eClient = ReturnType<typeof e2eSuite>['client'];
type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;
const containers = ['standin-node-1', 'standin-node-2', 'standin-node-3'];
/** The load-balancer watch runs beside every wait and is no step of its own. */
const BESIDE_STEPS = new Set(['holdLoadBalancer']);

async function images(): Promise<string[]> {
  const docker = stackDeps().docker(stackEnv().DOCKER_HOST);
  return Promise.all(containers.map(async (name) => (await docker.getContainer(name).inspect()).Config.Image));
}

/**
 * Node 3 recreated as a NocoBase that ignores SIGTERM, and serving again: the stop-nodes step then
 * lasts until Docker kills it after timeouts.nodeStop. A stand-in that obeys stops in about 0.2 s,
 * less than one look after the kill in the pre-flight, which CI once saw pass unseen.
 */
async function nodeThreeIgnoresSigterm(): Promise<void> {
  await recreateStandinNode(3, { STANDIN_IGNORE_SIGTERM: 'true' });
  const options = standinOptions();
  await stackDeps().docker(options.dockerHost).getContainer(containers[2]!).start();
  const health = `http://127.0.0.1:${options.nodePorts[2]}/api/__health_check`;
  await until('node 3 serving again', async () => ((await fetch(health)).status === 200 ? true : undefined));
}

/**
 * The status if a worker answers within `ms`, else undefined. The gRPC deadline ends the call
 * itself: a query merely raced against a timer went on retrying after the test, and its retry on
 * the closed connection failed the file.
 */
function briefStatus(client: E2eClient, handle: Upgrade, ms = 300): Promise<ProcedureStatus | undefined> {
  return client.withDeadline(Date.now() + ms, () => handle.query(statusQuery)).catch(() => undefined);
}

/**
 * The worker process SIGKILLed, and started again, once in every stage of a run that `stageOf`
 * names (a step, an undo) — the first moment the test sees it — until `ended` settles. Returns the
 * stages it has killed in so far, and all of them once the run ended. While the worker is away the run stands still, so every kill lands in the
 * stage it was aimed at; a stage shorter than one look (100 ms) may pass unseen.
 */
function killInEveryStage(
  suite: ReturnType<typeof e2eSuite>,
  handle: Upgrade,
  stageOf: (status: ProcedureStatus | undefined, pending: string[]) => string | undefined,
  ended: Promise<unknown>,
  needsStatus = true,
): { killed: string[]; finished: Promise<string[]> } {
  let done = false;
  void ended.finally(() => (done = true)).catch(() => undefined);
  const killed: string[] = [];
  const finished = (async () => {
    while (!done) {
      // The server answers describe at once; the status query needs a worker's answer, which a
      // worker just restarted gives only after its replay — long enough for a short step to pass
      // unseen. So the pending activities decide first, and the query is asked only when they don't.
      const description = await handle.describe().catch(() => undefined);
      if (description) {
        const pending = (description.raw.pendingActivities ?? []).map((activity) => activity.activityType?.name ?? '').filter((name) => name && !BESIDE_STEPS.has(name));
        let stage = stageOf(undefined, pending);
        // A query waits for a worker (seconds after a kill, while the server gives up on the dead
        // one's sticky queue): a short stage would pass unseen meanwhile, so it gets 300 ms.
        if (!stage && needsStatus) stage = stageOf(await briefStatus(suite.client, handle), pending);
        if (stage && !killed.includes(stage) && !done) {
          killed.push(stage);
          await suite.worker.kill();
          suite.worker = await startWorkerProcess();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return killed;
  })();
  return { killed, finished };
}

describe('versionUpgrade with its worker SIGKILLed in every step, on the stand-in cluster', () => {
  const suite = e2eSuite({ startCluster: true });
  const start = async () =>
    (await suite.client.workflow.start(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2 }],
    })) as Upgrade;

  it('approved: a kill in each step of the upgrade, and the run still ends upgraded', { timeout: 840_000 }, async () => {
    // Enough data that the backup lasts long enough to be killed in.
    const db = new PgClient({ connectionString: stackEnv().STANDIN_DATABASE_URL });
    await db.connect();
    await db.query(`CREATE TABLE padding AS SELECT g AS id, md5(g::text) || repeat('x', 400) AS filler FROM generate_series(1, 150000) g`);
    await db.end();
    await nodeThreeIgnoresSigterm();
    const handle = await start();
    const ended = handle.result();
    // The server's pending activities answer at once, a query only between workflow tasks: a
    // node's wait is start-first-node before the approval and start-other-nodes after it (the
    // quick steps around it run as local activities and are never pending).
    let approved = false;
    const stageOf = (status: ProcedureStatus | undefined, pending: string[]) => {
      if (pending.includes('waitNodeReady')) return approved ? 'start-other-nodes' : 'start-first-node';
      if (pending.some((name) => name === 'stopNode' || name === 'suspendRestartPolicy')) return 'stop-nodes';
      if (pending.some((name) => name.startsWith('backup'))) return 'backup';
      return status?.outcome === 'running' ? status.step : undefined;
    };
    const killer = killInEveryStage(suite, handle, stageOf, ended);
    await until('a kill while the decision is awaited', async () => (killer.killed.includes('verify') ? true : undefined), 600_000);
    await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));
    await handle.signal(approveSignal, { by: 'alice' });
    approved = true;
    const result = await ended;
    const killed = await killer.finished;
    process.stdout.write(`# killed in ${killed.length} steps: ${killed.join(', ')}\n`);

    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual(await images(), containers.map(() => stackEnv().STANDIN_IMAGE_V2));
    assert.equal((await fingerprint(stackEnv().STANDIN_DATABASE_URL)).orders, 50, 'no business row lost');
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);
    // The steps that last longer than a look were each interrupted at least once. update-image is
    // one local activity of well under a second, often done by the restarted worker before the
    // first look after a kill in backup: a kill there is taken when seen, not required;
    // test/integration/node-images covers its retry.
    for (const step of ['stop-nodes', 'backup', 'start-first-node', 'verify', 'start-other-nodes'] as const) {
      assert.ok(UPGRADE_STEPS.includes(step) && killed.includes(step), `no kill landed in ${step}: ${killed.join(', ')}`);
    }
  });

  it('rejected: a kill at the decision and in each undo of the rollback, and the run still ends rolled back with the data as before', { timeout: 840_000 }, async () => {
    const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    const storageBefore = await standinStorageListing();
    const handle = await start();
    await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));
    // The decision arrives while no worker runs.
    await suite.worker.kill();
    await handle.signal(rejectSignal, { by: 'ops@demo.test', reason: 'reports look wrong' });
    suite.worker = await startWorkerProcess();
    const ended = handle.result();
    // After the rejection every activity is undo work (then the outcome mail): each kind is a stage.
    const killer = killInEveryStage(suite, handle, (_status, pending) => (pending[0] ? `undo ${pending[0]}` : undefined), ended, false);
    const result = await ended;
    const killed = await killer.finished;
    process.stdout.write(`# killed in ${killed.length} undos: ${killed.join(', ')}\n`);

    assert.equal(result.outcome, 'rolled-back');
    assert.deepEqual(await images(), containers.map(() => stackEnv().STANDIN_IMAGE_V1));
    assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before);
    assert.equal(await standinStorageListing(), storageBefore, 'the shared storage is back byte for byte');
    const response = await fetch(stackEnv().STANDIN_LB_URL);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-standin-version'), '1.6.0');
    assert.ok(killed.length >= 3, `kills landed in the rollback's undos: ${killed.join(', ')}`);
  });
});

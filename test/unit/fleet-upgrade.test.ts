import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Activities, ActivityDeps } from '../../src/activities';
import { createFleetActivities } from '../../src/activities/cluster/fleet';
import { dataConverterFromEnv } from '../../src/client/data-converter';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { fleetWorkflowId, type FleetMember, type FleetUpgradeInput } from '../../src/procedures/fleet-upgrade';
import type { FleetDryRun, FleetUpgradeResult } from '../../src/workflows/fleet-upgrade';
import { abortUpdate, approveSignal, fleetStatusQuery, pauseUpdate, rejectSignal, resumeUpdate, skipUpdate, type FleetStatus } from '../../src/workflows/messages';
import { startUnitEnvironment } from '../support/unit-environment';
import { releaseSignal } from '../support/workflows/fleet-probe';

// The fleet's waves, budget and controls, on a fake versionUpgrade (test/support/workflows/fleet-probe.ts)
// whose ending each cluster's name chooses: `-rollback-`, `-fail-`, `-hold-` (until released or
// cancelled), `-ask-` (awaits a decision until released); anything else is upgraded.

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
before(async () => {
  env = await startUnitEnvironment();
  const quiet = () => undefined;
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../support/workflows/fleet-probe'), logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: (message) => console.error(message) } });
});
after(async () => {
  await env?.teardown();
});

const IMAGE = 'registry.test/nocobase:1.7.0';
type Fleet = WorkflowHandle<(input: FleetUpgradeInput) => Promise<FleetUpgradeResult | FleetDryRun>>;

/** Unique cluster names for one test: `c('ok')` → `u1a2b3c-ok-1`. */
function namer() {
  const prefix = `u${randomUUID().slice(0, 6)}`;
  let n = 0;
  return (kind: string) => `${prefix}-${kind}-${++n}`;
}

/** The configured clusters the fleet's read finds: each with approver alice, and the given labels. */
function configured(members: Array<Pick<FleetMember, 'name'> & Partial<FleetMember>>): Pick<Activities, 'fleetClusters' | 'describeProcedures' | 'sendNotification'> {
  const all = members.map((member) => ({ labels: {}, approvers: ['alice'], ...member }));
  // The real describeProcedures, reading the fake children's status through the test server.
  const { describeProcedures } = createFleetActivities({ temporal: env.client } as unknown as ActivityDeps);
  return {
    fleetClusters: async ({ clusters }) => (clusters ? clusters.map((name) => all.find((member) => member.name === name) ?? { name, labels: {}, approvers: ['alice'] }) : all),
    describeProcedures,
    sendNotification: async ({ subject }) => ({ sent: true, recipients: ['alice'], messageId: subject }),
  };
}

async function withFleet<T>(input: Omit<FleetUpgradeInput, 'image'> & { image?: string }, members: string[], body: (fleet: Fleet) => Promise<T>, workflowId = fleetWorkflowId(input.name)): Promise<T> {
  const taskQueue = `unit-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: configured(members.map((name) => ({ name }))), dataConverter: dataConverterFromEnv(),
  });
  return worker.runUntil(async () => {
    const fleet = (await env.client.workflow.start('fleetUpgrade', { taskQueue, workflowId, args: [{ image: IMAGE, watchEvery: '200ms', ...input }] })) as Fleet;
    return body(fleet);
  });
}

async function finished(fleet: Fleet): Promise<FleetUpgradeResult> {
  return (await fleet.result()) as FleetUpgradeResult;
}

async function untilStatus(fleet: Fleet, what: (status: FleetStatus) => boolean): Promise<FleetStatus> {
  for (let i = 0; i < 300; i++) {
    const status = await fleet.query(fleetStatusQuery);
    if (what(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail(`the fleet never got there: ${JSON.stringify(await fleet.query(fleetStatusQuery))}`);
}

/** Whether a procedure ever ran under the cluster's ID: "touched" means its versionUpgrade started. */
async function touched(cluster: string): Promise<boolean> {
  return env.client.workflow.getHandle(procedureWorkflowId(cluster)).describe().then(() => true, () => false);
}

/** An update the fleet's validator refused, with the refusal's words. */
async function refused(update: Promise<unknown>, words: RegExp): Promise<void> {
  const error = await update.then(() => assert.fail('expected a refusal'), (caught: unknown) => caught);
  assert.ok(error instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${String(error)}`);
  assert.match(String((error.cause as Error | undefined)?.message), words);
}

const states = (result: { clusters: FleetStatus['clusters'] }) => Object.fromEntries(Object.entries(result.clusters).map(([name, entry]) => [name, entry.state]));
const release = (cluster: string) => env.client.workflow.getHandle(procedureWorkflowId(cluster)).signal(releaseSignal);

describe('fleetUpgrade', () => {
  it('lists the waves on a dry run and starts nothing', async () => {
    const c = namer();
    const clusters = [c('ok'), c('ok'), c('ok'), c('ok')];
    const plan = (await withFleet({ name: c('dry'), clusters, batchSize: 2, images: { [clusters[3]!]: 'registry.test/nocobase:1.7.1' }, dryRun: true }, clusters, (fleet) => fleet.result())) as FleetDryRun;
    assert.deepEqual(plan.waves, [[clusters[0]], [clusters[1], clusters[2]], [clusters[3]]]);
    assert.equal(plan.images[clusters[3]!], 'registry.test/nocobase:1.7.1');
    assert.deepEqual(plan.approvers, ['alice']);
    for (const cluster of clusters) assert.equal(await touched(cluster), false);
  });

  it('upgrades every wave in order when all goes well', async () => {
    const c = namer();
    const clusters = [c('ok'), c('ok'), c('ok')];
    const result = await withFleet({ name: c('all'), clusters, batchSize: 1 }, clusters, finished);
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(Object.values(states(result)), ['upgraded', 'upgraded', 'upgraded']);
    const starts = clusters.map((cluster) => result.clusters[cluster]!.startedAt!);
    const ends = clusters.map((cluster) => result.clusters[cluster]!.endedAt!);
    assert.ok(starts[1]! >= ends[0]! && starts[2]! >= ends[1]!, 'each wave starts once the one before ended');
  });

  it('touches no other cluster when the canary rolls back', async () => {
    const c = namer();
    const clusters = [c('rollback'), c('ok'), c('ok')];
    const result = await withFleet({ name: c('canary'), clusters, batchSize: 2 }, clusters, finished);
    assert.equal(result.outcome, 'stopped');
    assert.match(result.reason ?? '', /failure budget \(0\) spent: .*-rollback-1 rolled-back/);
    assert.deepEqual(Object.values(states(result)), ['rolled-back', 'not-started', 'not-started']);
    assert.match(result.clusters[clusters[0]!]!.reason ?? '', /rejected by alice/);
    assert.equal(await touched(clusters[1]!), false);
    assert.equal(await touched(clusters[2]!), false);
  });

  it('stops the later waves after a rollback in the middle of a wave, letting its running upgrades finish', async () => {
    const c = namer();
    const clusters = [c('ok'), c('hold'), c('rollback'), c('ok'), c('ok')];
    const result = await withFleet({ name: c('mid'), clusters, batchSize: 3, maxParallel: 2 }, clusters, async (fleet) => {
      // Wave 2 runs hold-2 and rollback-3 at once; ok-4 waits for a slot and never gets one.
      await untilStatus(fleet, (status) => status.clusters[clusters[2]!]?.state === 'rolled-back');
      await release(clusters[1]!);
      return finished(fleet);
    });
    assert.equal(result.outcome, 'stopped');
    assert.deepEqual(Object.values(states(result)), ['upgraded', 'upgraded', 'rolled-back', 'not-started', 'not-started']);
    assert.equal(await touched(clusters[3]!), false);
  });

  it('goes on past as many failures as the budget allows', async () => {
    const c = namer();
    const clusters = [c('ok'), c('fail'), c('ok')];
    const result = await withFleet({ name: c('budget'), clusters, batchSize: 1, failureBudget: 1 }, clusters, finished);
    assert.equal(result.outcome, 'completed');
    assert.equal(result.clusters[clusters[1]!]!.state, 'failed');
    assert.equal(result.clusters[clusters[1]!]!.type, 'RollbackFailed');
    assert.equal(result.clusters[clusters[2]!]!.state, 'upgraded');
  });

  it('starts nothing new while paused and goes on once resumed', async () => {
    const c = namer();
    const clusters = [c('hold'), c('ok')];
    const result = await withFleet({ name: c('pause'), clusters, batchSize: 1 }, clusters, async (fleet) => {
      await untilStatus(fleet, (status) => status.clusters[clusters[0]!]?.state === 'running');
      await refused(fleet.executeUpdate(pauseUpdate, { args: [{ by: 'mallory' }] }), /mallory is not an approver/);
      const paused = await fleet.executeUpdate(pauseUpdate, { args: [{ by: 'alice', reason: 'lunch' }] });
      assert.equal(paused.state, 'paused');
      await release(clusters[0]!);
      await untilStatus(fleet, (status) => status.clusters[clusters[0]!]?.state === 'upgraded');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal((await fleet.query(fleetStatusQuery)).clusters[clusters[1]!]!.state, 'pending');
      assert.equal(await touched(clusters[1]!), false);
      await fleet.executeUpdate(resumeUpdate, { args: [{ by: 'alice' }] });
      return finished(fleet);
    });
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(result.controls.map((control) => `${control.action} by ${control.by}`), ['pause by alice', 'resume by alice']);
  });

  it('skips a cluster not yet started, and refuses to skip one that runs', async () => {
    const c = namer();
    const clusters = [c('hold'), c('ok'), c('ok')];
    const result = await withFleet({ name: c('skip'), clusters, batchSize: 1 }, clusters, async (fleet) => {
      await untilStatus(fleet, (status) => status.clusters[clusters[0]!]?.state === 'running');
      await refused(fleet.executeUpdate(skipUpdate, { args: [{ by: 'alice', cluster: clusters[0]! }] }), /only a cluster not yet started can be skipped/);
      await fleet.executeUpdate(skipUpdate, { args: [{ by: 'alice', cluster: clusters[1]!, reason: 'customer freeze' }] });
      await release(clusters[0]!);
      return finished(fleet);
    });
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(Object.values(states(result)), ['upgraded', 'skipped', 'upgraded']);
    assert.equal(await touched(clusters[1]!), false);
  });

  it('asks no approval for a wave whose every cluster was skipped', async () => {
    const c = namer();
    const clusters = [c('hold'), c('ok')];
    const result = await withFleet({ name: c('skipgate'), clusters, batchSize: 1, approveBetweenWaves: true }, clusters, async (fleet) => {
      await untilStatus(fleet, (status) => status.clusters[clusters[0]!]?.state === 'running');
      await fleet.executeUpdate(skipUpdate, { args: [{ by: 'alice', cluster: clusters[1]! }] });
      await release(clusters[0]!);
      return finished(fleet);
    });
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(result.decisions, []);
  });

  it('aborts: running upgrades are cancelled and roll back, upgraded clusters stay, the rest never start', async () => {
    const c = namer();
    const clusters = [c('ok'), c('hold'), c('hold'), c('ok')];
    const result = await withFleet({ name: c('abort'), clusters, batchSize: 2 }, clusters, async (fleet) => {
      await untilStatus(fleet, (status) => status.clusters[clusters[1]!]?.state === 'running' && status.clusters[clusters[2]!]?.state === 'running');
      await fleet.executeUpdate(abortUpdate, { args: [{ by: 'alice', reason: 'wrong image' }] });
      return finished(fleet);
    });
    assert.equal(result.outcome, 'aborted');
    assert.match(result.reason ?? '', /aborted by alice: wrong image/);
    assert.deepEqual(Object.values(states(result)), ['upgraded', 'cancelled', 'cancelled', 'not-started']);
    // Each child ran its own "rollback" before it ended cancelled.
    const child = await env.client.workflow.getHandle(procedureWorkflowId(clusters[1]!)).describe();
    assert.equal(child.status.name, 'CANCELLED');
    assert.equal(await touched(clusters[3]!), false);
  });

  it('waits for an approver between waves, ignores others, and stops when one rejects', async () => {
    const c = namer();
    const clusters = [c('ok'), c('ok'), c('ok')];
    const result = await withFleet({ name: c('gate'), clusters, batchSize: 1, approveBetweenWaves: true }, clusters, async (fleet) => {
      await untilStatus(fleet, (status) => status.state === 'awaiting-approval' && status.wave === 1);
      assert.equal(await touched(clusters[1]!), false);
      await fleet.signal(approveSignal, { by: 'mallory' });
      await fleet.signal(approveSignal, { by: 'alice', comment: 'canary fine' });
      await untilStatus(fleet, (status) => status.state === 'awaiting-approval' && status.wave === 2);
      await fleet.signal(rejectSignal, { by: 'alice', reason: 'support is busy' });
      return finished(fleet);
    });
    assert.equal(result.outcome, 'rejected');
    assert.match(result.reason ?? '', /wave 3 rejected by alice: support is busy/);
    assert.deepEqual(Object.values(states(result)), ['upgraded', 'upgraded', 'not-started']);
    assert.deepEqual(result.decisions.map((decision) => `${decision.decision} by ${decision.by}`), ['approve by alice', 'reject by alice']);
  });

  it('shows in its status which running upgrades await a decision on their own cluster', async () => {
    const c = namer();
    const clusters = [c('ask'), c('ok')];
    await withFleet({ name: c('asks'), clusters, batchSize: 1 }, clusters, async (fleet) => {
      const status = await untilStatus(fleet, (now) => now.awaitingDecision.length > 0);
      assert.deepEqual(status.awaitingDecision, [clusters[0]]);
      assert.equal(status.clusters[clusters[0]!]!.step, 'verify');
      await release(clusters[0]!);
      assert.equal((await finished(fleet)).outcome, 'completed');
    });
  });

  it('carries on after its worker is replaced mid-wave, from its history alone', async () => {
    const c = namer();
    const clusters = [c('ok'), c('hold'), c('ok')];
    const name = c('restart');
    const taskQueue = `unit-${randomUUID()}`;
    const newWorker = () => Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: configured(clusters.map((cluster) => ({ name: cluster }))), dataConverter: dataConverterFromEnv(),
      // A replaced worker's sticky queue is given up on after this, not after the default 10 s per workflow.
      stickyQueueScheduleToStartTimeout: '1s' });
    const fleet = (await newWorker().then((first) =>
      first.runUntil(async () => {
        const handle = (await env.client.workflow.start('fleetUpgrade', { taskQueue, workflowId: fleetWorkflowId(name), args: [{ name, clusters, batchSize: 1, image: IMAGE, watchEvery: '200ms' }] })) as Fleet;
        await untilStatus(handle, (status) => status.clusters[clusters[1]!]?.state === 'running');
        return handle;
      }),
    ));
    // The first worker is gone; a new one (no cache) replays the fleet and finishes it.
    const result = await (await newWorker()).runUntil(async () => {
      await release(clusters[1]!);
      return finished(fleet);
    });
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(Object.values(states(result)), ['upgraded', 'upgraded', 'upgraded']);
  });

  it('selects its clusters by labels', async () => {
    const c = namer();
    const eu = [c('ok'), c('ok')];
    const taskQueue = `unit-${randomUUID()}`;
    const members = [{ name: eu[1]!, labels: { region: 'eu' } }, { name: c('ok'), labels: { region: 'us' } }, { name: eu[0]!, labels: { region: 'eu' } }];
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: configured(members), dataConverter: dataConverterFromEnv() });
    const name = c('labels');
    const plan = (await worker.runUntil(env.client.workflow.execute('fleetUpgrade', { taskQueue, workflowId: fleetWorkflowId(name), args: [{ name, selector: { region: 'eu' }, image: IMAGE, dryRun: true }] }))) as FleetDryRun;
    assert.deepEqual(plan.waves, [[eu[0]], [eu[1]]]);
  });

  it('takes the ID a schedule gives it: fleet-<name> and the action time', async () => {
    const c = namer();
    const name = c('window');
    const clusters = [c('ok')];
    const plan = (await withFleet({ name, clusters, dryRun: true }, clusters, (fleet) => fleet.result(), `${fleetWorkflowId(name)}-2026-12-06T01:00:00Z`)) as FleetDryRun;
    assert.deepEqual(plan.waves, [clusters]);
  });

  it('refuses to start under an ID other than fleet-<name>', async () => {
    const c = namer();
    const error = await withFleet({ name: c('id'), clusters: [c('ok')] }, [], (fleet) => fleet.result().then(() => assert.fail('expected a refusal'), (caught: unknown) => caught), `other-${randomUUID()}`);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure);
    assert.equal(error.cause.type, FailureType.InvalidWorkflowId);
  });
});

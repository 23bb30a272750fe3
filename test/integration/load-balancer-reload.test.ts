// test-lane: exclusive
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { HoldLoadBalancerInput, HoldLoadBalancerReport } from '../../src/activities/load-balancer/hold';
import { mapEntry } from '../../src/adapters/haproxy/backend';
import { readMapFileEntry, writeMapFileEntry } from '../../src/adapters/haproxy/map-file';
import { fileAdminStates, runtimeAdminStates } from '../../src/adapters/haproxy/server-state';
import { HaproxyRuntime } from '../../src/adapters/haproxy/runtime';
import { reloadHaproxy } from '../support/haproxy-reload';
import { runActivity, stackConfig, stackEnv, standinActivities } from '../support/stack';
import { haproxyOf } from '../support/haproxy-config';

const cluster = 'standin';
const lb = () => haproxyOf(stackConfig().clusters.standin);
const runtime = () => new HaproxyRuntime(lb().runtimeApi);
const stateFile = () => lb().serverStateFile!;

async function status(): Promise<number> {
  return (await fetch(stackEnv().STANDIN_LB_URL)).status;
}

/** Polls until `look` holds, for at most `ms`; returns how long it took. */
async function within(ms: number, look: () => Promise<boolean>, what: string): Promise<number> {
  const start = Date.now();
  while (!(await look())) {
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms}ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - start;
}

describe('the load balancer state a procedure sets survives an HAProxy reload', () => {
  const suite = standinActivities();

  before(async () => {
    assert.ok(lb().serverStateFile, 'the stack config names a server state file for standin');
    // The files as the activities write them (a reset changes only memory): every server out, page off.
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: false });
    await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1', 'node-2', 'node-3'], state: 'maint' });
    await runActivity(suite.activities.startNode, { cluster, node: 'node-1' });
    await runActivity(suite.activities.waitNodeReady, { cluster, node: 'node-1', requirePlugins: false });
  });

  after(async () => {
    // Through the activities, so the files agree with the reset that follows (servers maint, switch off).
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: false });
    await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1', 'node-2', 'node-3'], state: 'maint' });
  });

  it('still shows the 503 page after a reload when maintenance is on and the servers are in maintenance', async () => {
    await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'ready' });
    await runActivity(suite.activities.waitLoadBalancerServing, { cluster, nodes: ['node-1'] });
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: true });
    await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'maint' });
    assert.equal(await status(), 503);

    await reloadHaproxy();

    const response = await fetch(stackEnv().STANDIN_LB_URL);
    assert.equal(response.status, 503);
    assert.match(await response.text(), /maintenance/i);
    assert.equal(await mapEntry(runtime(), lb().maintenanceMap, cluster), 'on');
    assert.equal((await runtimeAdminStates(runtime(), lb().backend)).get('node-1'), 'maint');
  });

  it('serves (200) after a reload once the servers are ready and maintenance is off, while a memory-only change is lost', async () => {
    await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'ready' });
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: false });
    await runActivity(suite.activities.waitLoadBalancerServing, { cluster, nodes: ['node-1'] });
    assert.equal(await status(), 200);
    // The control: node-2 set ready behind the procedures' back, in memory only, then persisted
    // files rewritten by another change so they hold node-2 as the config has it.
    await runtime().commandExpectingSilence(`set server ${lb().backend}/node-2 state ready`);
    writeFileSync(stateFile(), readFileSync(stateFile(), 'utf8'));

    await reloadHaproxy();

    const states = await runtimeAdminStates(runtime(), lb().backend);
    assert.equal(states.get('node-1'), 'ready', 'kept: the procedure wrote it to the state file');
    assert.equal(states.get('node-2'), 'maint', 'lost: set in memory only, the config says disabled');
    await runActivity(suite.activities.waitLoadBalancerServing, { cluster, nodes: ['node-1'] });
    const response = await fetch(stackEnv().STANDIN_LB_URL);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-standin-node'), 'node-1');
  });

  it('holdLoadBalancer puts back within seconds what a reload with stale files lost, and returns the drifts when cancelled', async () => {
    // Stale files as a config push would bring them: switch off, node-1 ready.
    await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'ready' });
    const staleStates = readFileSync(stateFile(), 'utf8');
    // The procedure's state while it waits for approval: page on, node-1 out.
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: true });
    await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'maint' });

    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    const beats: HoldLoadBalancerReport[] = [];
    env.on('heartbeat', (details: HoldLoadBalancerReport) => beats.push(structuredClone(details)));
    const input: HoldLoadBalancerInput = { cluster, maintenance: true, servers: [{ node: 'node-1', state: 'maint' }], checkEveryMs: 1_500 };
    const holding: Promise<HoldLoadBalancerReport> = env.run(suite.activities.holdLoadBalancer, input);
    // The watch heartbeats between its looks too; `checks` counts the looks.
    const checks = () => beats.at(-1)?.checks ?? 0;
    await within(10_000, async () => checks() >= 2, 'two quiet checks');
    assert.deepEqual(beats.at(-1)?.drifts, [], 'nothing drifted while nobody touched HAProxy');

    // Right after a check, so the reload happens between two looks.
    const seen = checks();
    await within(5_000, async () => checks() > seen, 'the next check');
    writeFileSync(stateFile(), staleStates);
    await writeMapFileEntry(lb().maintenanceMap, cluster, 'off');
    await reloadHaproxy();
    const putBackMs = await within(8_000, async () => (await status()) === 503 && (await runtimeAdminStates(runtime(), lb().backend)).get('node-1') === 'maint', 'page on and node-1 out again');
    assert.ok(putBackMs < 8_000);

    await within(5_000, async () => beats.some((beat) => beat.drifts.length > 0), 'a heartbeat reporting the drift');
    env.cancel();
    const report = await holding;
    assert.ok(report.checks >= 3, `checks: ${report.checks}`);
    const drifts = report.drifts.map((drift) => drift.what);
    assert.ok(drifts.some((what) => /maintenance switch standin was off/.test(what)), drifts.join('\n'));
    assert.ok(drifts.some((what) => /server standin_nodes\/node-1 was ready/.test(what)), drifts.join('\n'));
    for (const drift of report.drifts) assert.ok(!Number.isNaN(Date.parse(drift.at)), drift.at);
    // And the files say so again, so the next reload keeps it.
    assert.equal(await readMapFileEntry(lb().maintenanceMap, cluster), 'on');
    assert.equal((await fileAdminStates(stateFile(), lb().backend)).get('node-1'), 'maint');
  });

  it('releaseLoadBalancerHold ends the watch of its own run in this process without waiting for a heartbeat, and no other run\'s', async () => {
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: true });
    const info = (runId: string) => ({ workflowExecution: { workflowId: 'maintenance-standin', runId } });
    const env = new MockActivityEnvironment(info('run-a'), { logger: new DefaultLogger('ERROR') });
    let beats = 0;
    env.on('heartbeat', () => beats++);
    // Without a release, the next look would be ten minutes away and nothing cancels it.
    const holding: Promise<HoldLoadBalancerReport> = env.run(suite.activities.holdLoadBalancer, { cluster, maintenance: true, servers: [], checkEveryMs: 600_000 });
    await within(10_000, async () => beats > 0, 'the first look');
    const still = Symbol('still holding');
    const settled = async (ms: number) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<typeof still>((resolve) => (timer = setTimeout(() => resolve(still), ms)));
      try {
        return await Promise.race([holding, late]);
      } finally {
        clearTimeout(timer);
      }
    };

    const elsewhere = new MockActivityEnvironment(info('run-b'), { logger: new DefaultLogger('ERROR') });
    assert.equal(await elsewhere.run(suite.activities.releaseLoadBalancerHold, { cluster }), false, 'another run has no watch here');
    assert.equal(await settled(1_000), still, "another run's release leaves the watch running");

    const own = new MockActivityEnvironment(info('run-a'), { logger: new DefaultLogger('ERROR') });
    assert.equal(await own.run(suite.activities.releaseLoadBalancerHold, { cluster }), true);
    const report = await settled(30_000);
    assert.notEqual(report, still, 'the watch ended on its release');
    assert.ok(typeof report !== 'symbol' && report.checks >= 1 && report.drifts.length === 0, JSON.stringify(report));
    assert.equal(await own.run(suite.activities.releaseLoadBalancerHold, { cluster }), false, 'a second release finds nothing: safe to retry');
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: false });
  });
});

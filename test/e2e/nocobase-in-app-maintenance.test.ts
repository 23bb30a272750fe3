// test-lane: nocobase
import type { WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { payloadCodecsFromEnv } from '../../src/client/data-converter';
import { taskQueue } from '../../src/client/task-queue';
import { decodeHistory } from '../../src/codec/decode-history';
import type { InAppMaintenanceInput, InAppMaintenanceResult } from '../../src/workflows/in-app-maintenance';
import { approveSignal, statusQuery } from '../../src/workflows/messages';
import { inAppMaintenance } from '../../src/workflows';
import { DEMO_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { applicationPlugins } from '../support/nocobase-api';
import { startProber } from '../support/prober';
import { putSamplePluginInDemoStorage, SAMPLE_PLUGIN_PACKAGE } from '../support/nocobase-plugin-tarball';
import { inStandinStorage } from '../support/storage-listing';
import { stackConfig, stackDeps, stackEnv } from '../support/stack';
import { historyActivities } from '../support/history-activities';
import { dockerNodesOf } from '../../src/config/schema';

type Maintenance = WorkflowHandle<(input: InAppMaintenanceInput) => Promise<InAppMaintenanceResult>>;

/** `@nocobase/plugin-map`: shipped in the release, not enabled by the install (one of the 22 such). */
const PLUGIN = 'map';

describe('inAppMaintenance on three real NocoBase nodes, through the real worker process', () => {
  // One first start for the file: the tarball test runs on the cluster the test before left serving.
  const suite = e2eSuite({ startCluster: true, cluster: 'demo', once: true });

  it('enables a plugin NocoBase ships disabled, on node-1 alone, approved; then every node serves with it', async () => {
    assert.equal((await applicationPlugins(stackEnv().DATABASE_URL)).get(PLUGIN), undefined, 'the install leaves it out');
    const prober = startProber(`${stackEnv().LB_URL}/api/__health_check`, { intervalMs: 100 });
    const handle = (await suite.client.workflow.start(inAppMaintenance, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'demo', operations: [{ type: 'pm', args: ['enable', PLUGIN] }] }],
    })) as Maintenance;
    await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined), 300_000);
    await handle.signal(approveSignal, { by: 'alice' });
    const result = await handle.result();
    const probes = await prober.stop();

    assert.equal(result.outcome, 'completed');
    assert.deepEqual(result.operations.map((operation) => [operation.operation, operation.ok]), [[`pm enable ${PLUGIN}`, true]]);
    assert.deepEqual((await applicationPlugins(stackEnv().DATABASE_URL)).get(PLUGIN), { enabled: true, installed: true });
    for (const node of dockerNodesOf(stackConfig().clusters.demo!)) assert.equal((await fetch(node.healthUrl)).status, 200, node.name);
    // The LB answers throughout; a node's 503 while `pm enable` runs in it is the only other answer.
    const statuses = new Set(probes.map((probe) => probe.status));
    assert.deepEqual([...statuses].filter((status) => status !== 200 && status !== 503), [], 'users never see a connection error');
    assert.equal(probes.at(-1)?.status, 200);
  });

  it('adds a plugin from a local tarball: node-1 alone restarts and runs the upgrade pm add leaves pending before the others start', async () => {
    const tarball = await putSamplePluginInDemoStorage();
    const handle = (await suite.client.workflow.start(inAppMaintenance, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'demo', operations: [{ type: 'pm', args: ['add', tarball] }, { type: 'pm', args: ['enable', SAMPLE_PLUGIN_PACKAGE] }] }],
    })) as Maintenance;
    await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined), 300_000);
    await handle.signal(approveSignal, { by: 'alice' });
    const result = await handle.result();

    assert.equal(result.outcome, 'completed');
    assert.deepEqual(result.operations.map((operation) => operation.ok), [true, true], JSON.stringify(result.operations));
    assert.deepEqual((await applicationPlugins(stackEnv().DATABASE_URL)).get(SAMPLE_PLUGIN_PACKAGE), { enabled: true, installed: true });
    assert.equal((await inStandinStorage('[ -e /storage/.upgrading ] && echo pending || echo none', {}, 'demo')).trim(), 'none', 'the upgrade pm add asked for has run');
    // From the history: after the add, node-1 was stopped and started again and became ready
    // before any other node was started (startNode is a local activity: recorded once it ran).
    const scheduled = historyActivities((await decodeHistory(await handle.fetchHistory(), payloadCodecsFromEnv())).events ?? []);
    const added = scheduled.findIndex((entry) => entry.activity === 'runNodeCommand');
    const after = scheduled.slice(added).filter((entry) => ['stopNode', 'startNode', 'waitNodeReady'].includes(entry.activity));
    const othersStart = after.findIndex((entry) => entry.activity === 'startNode' && entry.node !== 'node-1');
    const aloneFirst = after.slice(0, othersStart).map((entry) => `${entry.activity} ${entry.node}`);
    assert.ok(added >= 0 && othersStart > 0, JSON.stringify(scheduled));
    for (const step of ['stopNode node-1', 'startNode node-1', 'waitNodeReady node-1']) {
      assert.ok(aloneFirst.includes(step), `${step} before the other nodes start: ${JSON.stringify(aloneFirst)}`);
    }
    const docker = stackDeps().docker(stackEnv().DOCKER_HOST);
    const started = await Promise.all(['demo-node-1', 'demo-node-2', 'demo-node-3'].map(async (name) => Date.parse((await docker.getContainer(name).inspect()).State.StartedAt)));
    assert.ok(started[0]! < started[1]! && started[0]! < started[2]!, 'node-1 was running before nodes 2 and 3 started');
    for (const node of dockerNodesOf(stackConfig().clusters.demo!)) assert.equal((await fetch(node.healthUrl)).status, 200, node.name);
  });
});

// test-lane: nocobase
import type { WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { taskQueue } from '../../src/client/task-queue';
import type { InAppMaintenanceInput, InAppMaintenanceResult } from '../../src/workflows/in-app-maintenance';
import { approveSignal, statusQuery } from '../../src/workflows/messages';
import { inAppMaintenance } from '../../src/workflows';
import { DEMO_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { applicationPlugins } from '../support/nocobase-api';
import { startProber } from '../support/prober';
import { stackConfig, stackEnv } from '../support/stack';

type Maintenance = WorkflowHandle<(input: InAppMaintenanceInput) => Promise<InAppMaintenanceResult>>;

/** `@nocobase/plugin-map`: shipped in the release, not enabled by the install (one of the 22 such). */
const PLUGIN = 'map';

describe('inAppMaintenance on three real NocoBase nodes, through the real worker process', () => {
  const suite = e2eSuite({ startCluster: true, cluster: 'demo' });

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
    for (const node of stackConfig().clusters.demo!.nodes) assert.equal((await fetch(node.healthUrl)).status, 200, node.name);
    // The LB answers throughout; a node's 503 while `pm enable` runs in it is the only other answer.
    const statuses = new Set(probes.map((probe) => probe.status));
    assert.deepEqual([...statuses].filter((status) => status !== 200 && status !== 503), [], 'users never see a connection error');
    assert.equal(probes.at(-1)?.status, 200);
  });
});

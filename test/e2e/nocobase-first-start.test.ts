// test-lane: nocobase
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { taskQueue } from '../../src/client/task-queue';
import type { FirstStartResult } from '../../src/workflows/first-start';
import { firstStart } from '../../src/workflows';
import { DEMO_WORKFLOW_ID, e2eSuite } from '../support/e2e-suite';
import { appVersion, observeNodes, startedAt } from '../support/nocobase-observer';
import { applicationPlugins, recordedVersion } from '../support/nocobase-api';
import { stackConfig, stackEnv } from '../support/stack';
import { dockerNodesOf } from '../../src/config/schema';

// Real NocoBase 2.2.14 (the 2.2.15 release relabelled, see scripts/stack/nocobase/README.md) on
// the stack's `demo` cluster: three nodes, one database, one storage volume, the HAProxy LB.
const containers = ['demo-node-1', 'demo-node-2', 'demo-node-3'];

describe('firstStart on three real NocoBase nodes, through the real worker process', () => {
  const suite = e2eSuite({ startCluster: false, cluster: 'demo' });

  it('starts node-1 alone until NocoBase has installed and enabled its built-in plugins, then the others; the LB serves 200', async () => {
    const demo = stackConfig().clusters.demo!;
    const observer = observeNodes(Object.fromEntries(dockerNodesOf(demo).map((node) => [node.name, node.healthUrl])), stackEnv().DATABASE_URL);
    const started = Date.now();
    const result = (await suite.client.workflow.execute(firstStart, { taskQueue: taskQueue(), workflowId: DEMO_WORKFLOW_ID, args: [{ cluster: 'demo' }] })) as FirstStartResult;
    const elapsed = Date.now() - started;
    const { samples, pluginsReadyAt } = await observer.stop();
    process.stdout.write(`# firstStart on real NocoBase took ${(elapsed / 1000).toFixed(1)} s\n`);

    // NocoBase's own record: every built-in plugin installed and enabled, at the release's version.
    const plugins = await applicationPlugins(stackEnv().DATABASE_URL);
    assert.ok(plugins.size >= 76, `applicationPlugins holds ${plugins.size} rows`);
    assert.deepEqual([...plugins].filter(([, state]) => !state.enabled || !state.installed).map(([name]) => name), []);
    assert.equal(await recordedVersion(stackEnv().DATABASE_URL), '2.2.14');

    // Node-1 alone: the others started only after the plugins table was complete and node-1 answered 200.
    assert.ok(pluginsReadyAt, 'the observer saw the built-in plugins installed and enabled');
    const node1Ready = samples.find((sample) => sample.node === 'node-1' && sample.code === '200');
    assert.ok(node1Ready, JSON.stringify(samples));
    const starts = await startedAt(containers);
    for (const other of ['demo-node-2', 'demo-node-3']) {
      assert.ok(starts[other]! > pluginsReadyAt, `${other} started ${starts[other]! - pluginsReadyAt} ms after the plugins were ready`);
      assert.ok(starts[other]! > node1Ready.at - 200, `${other} started before node-1 answered 200`);
    }
    assert.ok(starts['demo-node-1']! < pluginsReadyAt);
    // Nodes 2 and 3 started on an installed database at the same version: no node failed.
    assert.deepEqual(samples.filter((sample) => sample.code === 'APP_ERROR'), []);
    assert.deepEqual(result.nodes.map((node) => node.node), ['node-1', 'node-2', 'node-3']);

    // Every node serves, and so does the load balancer, with the recorded version.
    for (const node of dockerNodesOf(demo)) assert.equal((await fetch(node.healthUrl)).status, 200, node.name);
    for (let i = 0; i < 6; i++) assert.equal((await fetch(`${stackEnv().LB_URL}/api/__health_check`)).status, 200);
    assert.equal(await appVersion(stackEnv().LB_URL), '2.2.14');
  });
});

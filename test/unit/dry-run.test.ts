import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { procedureWorkflowId } from '../../src/common/task-queue';
import type { DryRunPlan } from '../../src/workflows/dry-run';
import { mockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const READ_ONLY = new Set(['checkBlackout', 'checkClusterInvariants', 'describeCluster', 'findLeftovers', 'checkDatabase', 'probeNode', 'inspectImages', 'imageVersion', 'checkBackupRoom', 'recentWindow']);

async function plan(workflow: string, input: Record<string, unknown>, running: boolean) {
  const mock = mockCluster(`unit-${randomUUID().slice(0, 8)}`);
  for (const node of mock.plan.nodes) Object.assign(node, { running });
  const result = (await withMockedWorker(env, mock.activities, (taskQueue) =>
    env.client.workflow.execute(workflow, { taskQueue, workflowId: procedureWorkflowId(mock.plan.cluster), args: [{ cluster: mock.plan.cluster, dryRun: true, ...input }] }),
  )) as DryRunPlan;
  const called = [...new Set(mock.calls.filter((call) => !call.endsWith(':done')).map((call) => call.split(':')[0] ?? call))];
  return { result, called };
}

describe('dry runs', () => {
  it('plan an upgrade with the target, the backup and the expected downtime, calling read-only activities only', async () => {
    const { result, called } = await plan('versionUpgrade', { image: 'registry.test/nocobase:1.7.0', backupMethod: 'clone' }, true);
    assert.deepEqual(called.filter((name) => !READ_ONLY.has(name)), []);
    assert.equal(result.dryRun, true);
    assert.deepEqual(result.target, { image: 'registry.test/nocobase:1.7.0', version: null, present: [{ dockerHost: 'unix:///docker.sock', present: false }] });
    assert.equal(result.backup?.method, 'clone');
    assert.equal(result.expectedWindowMs, 42_000);
    assert.ok(result.steps.indexOf('backup') < result.steps.indexOf('update-image'));
    assert.deepEqual(result.problems, []);
  });

  it('list what the real run would refuse instead of failing', async () => {
    const upgrade = await plan('versionUpgrade', { image: 'registry.test/nocobase:1.6.0' }, true);
    assert.match(upgrade.result.problems.join('\n'), /already runs registry\.test\/nocobase:1\.6\.0/);
    const first = await plan('firstStart', {}, true);
    assert.match(first.result.problems.join('\n'), /already has running nodes/);
    assert.deepEqual(first.called.filter((name) => !READ_ONLY.has(name)), []);
  });

  it('plan an in-app maintenance with its operations, probing health, touching nothing', async () => {
    const { result, called } = await plan('inAppMaintenance', { operations: [{ type: 'pm', args: ['enable', 'map'] }, { type: 'backup' }] }, true);
    assert.deepEqual(called.filter((name) => !READ_ONLY.has(name)), []);
    assert.ok(called.includes('probeNode'));
    assert.deepEqual(result.operations, ['pm enable map', 'backup']);
    assert.equal(result.backup?.method, 'pg_dump');
  });
});

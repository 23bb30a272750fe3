import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { LOCAL_STEPS_PATCH } from '../../src/workflows/activity-options';
import { PATCHES } from '../../src/workflows/patches';
import { approveSignal, statusQuery } from '../../src/workflows/messages';
import { firstStart, versionUpgrade } from '../../src/workflows';
import { mockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const WORKFLOWS = join(__dirname, '..', '..', 'src', 'workflows');

/** Every patch ID the workflow code checks: `patched('id')` literals and `…_PATCH = 'id'` constants. */
function patchIdsInCode(): Set<string> {
  const ids = new Set<string>();
  for (const file of readdirSync(WORKFLOWS).filter((name) => name.endsWith('.ts'))) {
    const source = readFileSync(join(WORKFLOWS, file), 'utf8');
    for (const match of source.matchAll(/patched\('([a-z0-9-]+)'\)|_PATCH = '([a-z0-9-]+)'/g)) ids.add((match[1] ?? match[2])!);
  }
  return ids;
}

/** The history's markers and activities in order: `patch <id>`, `local <type>`, `activity <type>`. */
async function commands(workflowId: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_patch') return [`patch ${defaultPayloadConverter.fromPayload<{ id: string }>(marker.details!['patch-data']!.payloads![0]!).id}`];
    if (marker?.markerName === 'core_local_activity') return ['local'];
    if (event.activityTaskScheduledEventAttributes) return ['activity'];
    return [];
  });
}

function assertPatchesUpFront(recorded: string[]): void {
  const firstWork = recorded.findIndex((entry) => !entry.startsWith('patch '));
  const upFront = recorded.slice(0, firstWork);
  assert.equal(upFront[0], `patch ${LOCAL_STEPS_PATCH}`, recorded.join(', '));
  for (const id of PATCHES) assert.ok(upFront.includes(`patch ${id}`), `${id} before the first activity: ${recorded.join(', ')}`);
  assert.deepEqual(recorded.slice(firstWork).filter((entry) => entry.startsWith('patch ')), [], 'no patch marker after the first activity');
}

describe('patches in runs with local activities', () => {
  it('lists every patch the workflows check (so each is taken up front)', () => {
    const inCode = patchIdsInCode();
    assert.ok(inCode.size >= 15, [...inCode].join(' '));
    const missing = [...inCode].filter((id) => id !== LOCAL_STEPS_PATCH && !PATCHES.includes(id));
    assert.deepEqual(missing, [], 'add them to PATCHES in src/workflows/patches.ts');
  });

  it('records every patch before the first activity of a new firstStart run, none later', async () => {
    const mock = mockCluster(`unit-${randomUUID().slice(0, 8)}`);
    const workflowId = procedureWorkflowId(mock.plan.cluster);
    await withMockedWorker(env, mock.activities, (taskQueue) => env.client.workflow.execute(firstStart, { taskQueue, workflowId, args: [{ cluster: mock.plan.cluster }] }));
    assertPatchesUpFront(await commands(workflowId));
  });

  it('records every patch before the first activity of a new versionUpgrade run, none later', async () => {
    const mock = mockCluster(`unit-${randomUUID().slice(0, 8)}`);
    for (const node of mock.plan.nodes) Object.assign(node, { running: true, state: 'running' });
    const workflowId = procedureWorkflowId(mock.plan.cluster);
    const result = await withMockedWorker(env, mock.activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(versionUpgrade, { taskQueue, workflowId, args: [{ cluster: mock.plan.cluster, image: 'registry.test/nocobase:1.7.0' }] });
      while ((await handle.query(statusQuery)).approval?.state !== 'awaiting') await new Promise((resolve) => setTimeout(resolve, 50));
      await handle.signal(approveSignal, { by: 'alice' });
      return handle.result();
    });
    assert.equal((result as { outcome?: string }).outcome, 'upgraded');
    assertPatchesUpFront(await commands(workflowId));
  });
});

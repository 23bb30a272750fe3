import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { payloadCodecsFromEnv } from '../../src/client/data-converter';
import { decodeHistory } from '../../src/codec/decode-history';
import { procedureSummary } from '../../src/procedures';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { LOCAL_STEPS } from '../../src/workflows/activity-options';
import { summarizeActivity } from '../../src/workflows/activity-summary';
import { mockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';
import { firstStart } from '../../src/workflows';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

/**
 * The `summary` of every ActivityTaskScheduled event and every local activity's marker, in history
 * order (what the UI shows; a local activity appears once it has run).
 */
async function scheduledSummaries(workflowId: string): Promise<{ activity: string; summary: string | undefined }[]> {
  // Summaries are payloads: encrypted when the codec is on (the UI decodes them through the codec server).
  const history = await decodeHistory(await env.client.workflow.getHandle(workflowId).fetchHistory(), payloadCodecsFromEnv());
  return (history.events ?? []).flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    const marker = event.markerRecordedEventAttributes;
    const local = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0] : undefined;
    const activity = scheduled ? scheduled.activityType?.name : local ? defaultPayloadConverter.fromPayload<{ activity_type?: string }>(local).activity_type : undefined;
    if (activity === undefined || activity === null) return [];
    const payload = event.userMetadata?.summary;
    return [{ activity, summary: payload ? defaultPayloadConverter.fromPayload<string>(payload) : undefined }];
  });
}

describe('activity summaries in the UI', () => {
  it('gives every activity of a first start a one-line summary naming what it acts on', async () => {
    const cluster = `unit-${randomUUID().slice(0, 8)}`;
    const { activities } = mockCluster(cluster);
    await withMockedWorker(env, activities, (taskQueue) =>
      env.client.workflow.execute(firstStart, { taskQueue, workflowId: procedureWorkflowId(cluster), args: [{ cluster }] }),
    );
    const summaries = await scheduledSummaries(procedureWorkflowId(cluster));

    assert.ok(summaries.length >= 10, `expected the whole procedure's activities, got ${summaries.length}`);
    for (const { activity, summary } of summaries) {
      assert.ok(summary, `${activity} was scheduled without a summary`);
      assert.doesNotMatch(summary, /\n/, `${activity}'s summary must be one line`);
    }
    const texts = summaries.map((entry) => entry.summary);
    assert.ok(texts.includes('start node-1'), texts.join(' | '));
    assert.ok(texts.includes('wait until node-1 is healthy, with its plugins enabled'), texts.join(' | '));
    assert.ok(texts.includes('wait until node-2 is healthy'), texts.join(' | '));
    assert.ok(texts.indexOf('start node-1') < texts.indexOf('start node-2'), 'summaries follow the history order');
    assert.ok(texts.includes('load balancer: `node-1`, `node-2`, `node-3` to ready'), texts.join(' | '));
  });

  it('runs the quick steps as local activities (a marker each, no task of their own) and the waits as activities', async () => {
    const cluster = `unit-${randomUUID().slice(0, 8)}`;
    const { activities } = mockCluster(cluster);
    await withMockedWorker(env, activities, (taskQueue) =>
      env.client.workflow.execute(firstStart, { taskQueue, workflowId: procedureWorkflowId(cluster), args: [{ cluster }] }),
    );
    const history = await decodeHistory(await env.client.workflow.getHandle(procedureWorkflowId(cluster)).fetchHistory(), payloadCodecsFromEnv());
    const events = history.events ?? [];
    const scheduled = events.flatMap((event) => (event.activityTaskScheduledEventAttributes ? [event.activityTaskScheduledEventAttributes.activityType?.name ?? ''] : []));
    const local = (await scheduledSummaries(procedureWorkflowId(cluster))).map((entry) => entry.activity).filter((name) => !scheduled.includes(name));
    assert.deepEqual(scheduled.filter((name) => LOCAL_STEPS.has(name as never)), [], 'no quick step scheduled as an activity');
    for (const name of ['checkBlackout', 'describeCluster', 'startNode', 'setLoadBalancerServers', 'sendNotification']) assert.ok(local.includes(name), `${name} ran locally: ${local.join(' ')}`);
    for (const name of ['ensureImages', 'waitNodeReady', 'waitLoadBalancerServing']) assert.ok(scheduled.includes(name), `${name} is an activity: ${scheduled.join(' ')}`);
    const tasks = events.filter((event) => event.workflowTaskCompletedEventAttributes).length;
    assert.ok(tasks < scheduled.length + local.length, `${tasks} workflow tasks for ${scheduled.length} activities and ${local.length} local ones`);
  });

  it('keeps a summary on one line even when the input carries newlines', () => {
    const summary = summarizeActivity('sendNotification', { cluster: 'demo', subject: 'upgrade\nfailed', text: 'secret-free body' });
    assert.equal(summary, 'mail recipients: upgrade failed');
    assert.equal(summarizeActivity('runNodeCommand', { cluster: 'demo', node: 'node-1', command: ['yarn', 'pm', 'enable', 'map'] }), 'run `yarn pm enable map` in node-1');
  });

  it('summarizes a procedure for the workflow list from its input', () => {
    assert.equal(procedureSummary('versionUpgrade', { cluster: 'demo', image: 'r/n:1.7.0' }), 'Upgrade of demo to `r/n:1.7.0`');
    assert.equal(
      procedureSummary('inAppMaintenance', { cluster: 'demo', operations: [{ type: 'pm', args: ['add', 'map'] }, { type: 'backup' }] }),
      'In-app maintenance of demo: pm add map, backup',
    );
    assert.equal(procedureSummary('firstStart', { cluster: 'demo', dryRun: true }), 'First start of demo (dry run)');
  });
});

import type { temporal } from '@temporalio/proto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { payloadCodecsFromEnv } from '../../src/client/data-converter';
import { taskQueue } from '../../src/client/task-queue';
import { decodeHistory } from '../../src/codec/decode-history';
import { approveSignal, statusQuery } from '../../src/workflows/messages';
import { versionUpgrade } from '../../src/workflows';
import { fingerprint } from '../support/business-data';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { stackDeps, stackEnv } from '../support/stack';
import { historyActivities } from '../support/history-activities';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The scheduled activities of a history, with the node each was for, by event ID. */
function scheduledActivities(events: HistoryEvent[]): Map<string, { index: number; activity: string; node?: string }> {
  const scheduled = new Map<string, { index: number; activity: string; node?: string }>();
  events.forEach((event, index) => {
    const attributes = event.activityTaskScheduledEventAttributes;
    if (!attributes) return;
    const data = attributes.input?.payloads?.[0]?.data;
    const input = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { node?: string }) : {};
    scheduled.set(String(event.eventId), { index, activity: attributes.activityType?.name ?? '', node: input.node });
  });
  return scheduled;
}

/** Forward work of the step "start the other nodes on the new image". */
const FORWARD = new Set(['replaceNodeImage', 'startNode', 'waitNodeReady']);

describe('one node failing while its sibling starts, on the stand-in cluster', () => {
  const suite = e2eSuite({ startCluster: true });

  it('cancels the sibling, waits until it has stopped, and only then undoes; no forward activity after the first undo (read from the history)', { timeout: 300_000 }, async () => {
    const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    const docker = stackDeps().docker(stackEnv().DOCKER_HOST);
    const handle = await suite.client.workflow.start(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2 }],
    });
    await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));
    // node-2 dies as it starts on the new image (as an OOM kill would), while node-3 starts beside it.
    const events = (await docker.getEvents({ filters: { container: ['standin-node-2'], event: ['start'] } })) as NodeJS.ReadableStream & { destroy: () => void };
    const killed = new Promise<void>((resolve, reject) => {
      events.once('data', () => void docker.getContainer('standin-node-2').kill().then(() => resolve(), reject));
    });
    await handle.signal(approveSignal, { by: 'alice' });
    await killed;
    events.destroy();
    const error = await handle.result().catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError, String(error));

    const history = (await decodeHistory(await handle.fetchHistory(), payloadCodecsFromEnv())).events ?? [];
    const scheduled = scheduledActivities(history);
    const failedAt = history.findIndex((event) => {
      const attributes = event.activityTaskFailedEventAttributes;
      const started = attributes ? scheduled.get(String(attributes.scheduledEventId)) : undefined;
      return started?.activity === 'waitNodeReady' && started.node === 'node-2';
    });
    assert.ok(failedAt > 0, 'node-2\'s wait failed');
    // The first undo: the first activity after the failure that is no forward work (scheduled, or
    // a local activity's marker: the quick steps run locally and are recorded once they ran).
    const all = historyActivities(history);
    const after = all.filter((entry) => entry.index > failedAt);
    const firstUndo = after.find((entry) => !FORWARD.has(entry.activity) && entry.activity !== 'holdLoadBalancer');
    assert.ok(firstUndo, JSON.stringify(after));
    const forwardBetween = after.filter((entry) => !entry.local && entry.index < firstUndo.index && FORWARD.has(entry.activity));
    assert.deepEqual(forwardBetween, [], 'no forward activity scheduled after the failure');
    const forwardAfterUndo = all.filter((entry) => entry.local && entry.index > firstUndo.index && FORWARD.has(entry.activity) && entry.activity !== 'startNode');
    assert.deepEqual(forwardAfterUndo, [], 'no forward local activity ran after the first undo');
    // node-3's work of that step had ended (completed, or cancelled and confirmed) before the first undo.
    const node3 = [...scheduled.entries()].filter(([, entry]) => entry.index < failedAt && entry.node === 'node-3' && FORWARD.has(entry.activity));
    for (const [eventId, entry] of node3) {
      const closedAt = history.findIndex((event) =>
        [event.activityTaskCompletedEventAttributes, event.activityTaskCanceledEventAttributes, event.activityTaskFailedEventAttributes, event.activityTaskTimedOutEventAttributes]
          .some((attributes) => attributes && String(attributes.scheduledEventId) === eventId));
      assert.ok(closedAt >= 0 && closedAt < firstUndo.index, `${entry.activity} node-3 (event ${eventId}) settled before the first undo (${firstUndo.activity} at ${firstUndo.index}), settled at ${closedAt}`);
    }
    const cancelled = history.filter((event) => event.activityTaskCanceledEventAttributes).length;
    process.stdout.write(`# sibling activities cancelled and confirmed before the undo: ${cancelled}; first undo: ${firstUndo.activity} ${firstUndo.node ?? ''}\n`);

    const images = await Promise.all(['standin-node-1', 'standin-node-2', 'standin-node-3'].map(async (name) => (await docker.getContainer(name).inspect()).Config.Image));
    assert.deepEqual(images, [1, 2, 3].map(() => stackEnv().STANDIN_IMAGE_V1));
    assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before);
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);
  });
});

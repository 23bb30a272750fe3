import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client as PgClient } from 'pg';
import { readStandinEvents, type StandinEvent } from '../../scripts/stack/demo-cluster';
import { FailureType } from '../../src/common/failure-types';
import { CLUSTER_ATTRIBUTE } from '../../src/common/search-attributes';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { taskQueue } from '../../src/client/task-queue';
import type { FirstStartResult } from '../../src/workflows/first-start';
import { statusQuery } from '../../src/workflows/messages';
import { receivedMail } from '../support/maildir';
import { e2eSuite } from '../support/e2e-suite';
import { maintenanceSpans, overlappingSpans } from '../support/standin-observer';
import { resetLoadBalancer, stackDeps, stackEnv } from '../support/stack';
import { firstStart } from '../../src/workflows';

const workflowId = procedureWorkflowId('standin');
const containers = ['standin-node-1', 'standin-node-2', 'standin-node-3'];

function events(container: string): StandinEvent[] {
  return readStandinEvents(stackEnv().STANDIN_EVENTS_DIR, container);
}

function eventTime(container: string, event: string): number {
  const found = events(container).find((entry) => entry.event === event);
  assert.ok(found, `${container} recorded no "${event}" event: ${JSON.stringify(events(container))}`);
  return Date.parse(found.at);
}

async function startFirstStart(client: Client) {
  // A procedure left running on the stand-in cluster by someone else would hold the workflow ID.
  await client.workflow.getHandle(workflowId).terminate('e2e test needs the stand-in cluster').catch(() => undefined);
  return client.workflow.start(firstStart, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'standin' }] });
}

function docker() {
  return stackDeps().docker(stackEnv().DOCKER_HOST);
}

async function containerStates(): Promise<Record<string, boolean>> {
  return Object.fromEntries(await Promise.all(containers.map(async (name) => [name, (await docker().getContainer(name).inspect()).State.Running] as const)));
}

describe('firstStart on the 3-node stand-in cluster, through the real worker process', () => {
  const suite = e2eSuite({ startCluster: false });

  it('starts node-1 alone until its plugins are enabled, then the others, then serves 200 and mails', async () => {
    const mailBefore = receivedMail(stackEnv().SMTP_MAILDIR).length;
    const handle = await startFirstStart(suite.client);
    const result = (await handle.result()) as FirstStartResult;

    // From the stand-ins' own records: nobody else started before node-1 was healthy with plugins enabled.
    const firstReady = eventTime('standin-node-1', 'ready');
    const firstPlugins = eventTime('standin-node-1', 'plugins-enabled');
    assert.ok(firstPlugins >= firstReady);
    for (const other of ['standin-node-2', 'standin-node-3']) {
      assert.ok(eventTime(other, 'start') > firstPlugins, `${other} started before node-1 had its plugins enabled`);
      assert.ok(eventTime(other, 'ready'));
    }
    assert.deepEqual(containers.flatMap((name) => events(name).filter((entry) => entry.event === 'installed').map(() => name)), ['standin-node-1'], 'only node-1 installed');
    // No lock refuses a concurrent install (none in NocoBase either): the events files show one.
    const spans = maintenanceSpans(Object.fromEntries(containers.map((name) => [name, events(name)])));
    assert.deepEqual(overlappingSpans(spans), [], 'no concurrent install');

    // The load balancer serves 200 from every node.
    const answeredBy = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const response = await fetch(stackEnv().STANDIN_LB_URL);
      assert.equal(response.status, 200);
      answeredBy.add(response.headers.get('x-standin-node') ?? '?');
    }
    assert.deepEqual([...answeredBy].sort(), ['node-1', 'node-2', 'node-3']);

    // The recipients got the mail.
    const mail = receivedMail(stackEnv().SMTP_MAILDIR).slice(mailBefore);
    assert.ok(mail.some((message) => message.subject === '[nocobase-maintenance] standin: first start succeeded' && /ops@demo\.test/.test(message.to)), JSON.stringify(mail));
    assert.equal(result.notification.sent, true);

    // Operators see the outcome through the status query and can find it by cluster.
    const status = await handle.query(statusQuery);
    assert.equal(status.outcome, 'succeeded');
    assert.deepEqual(Object.values(status.nodes).map((node) => node.state), ['ready', 'ready', 'ready']);
    const description = await handle.describe();
    assert.deepEqual(description.typedSearchAttributes.get(CLUSTER_ATTRIBUTE), 'standin');

    // A second first start on the running cluster is refused before anything is touched.
    const again = await startFirstStart(suite.client);
    const error = await again.result().catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure);
    assert.equal(error.cause.type, FailureType.ClusterNotStopped);
    assert.deepEqual(Object.values(await containerStates()), [true, true, true]);
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);
  });

  it('fails as NodeFailed when node-1 refuses the database, stops it, starts no other node and mails the failure', async () => {
    // Install once, then make the database look written by a newer version: the node refuses to
    // start and stays up at 503 APP_ERROR, as NocoBase does.
    const install = await startFirstStart(suite.client);
    await install.result();
    for (const container of containers) await docker().getContainer(container).stop();
    const db = new PgClient({ connectionString: stackEnv().STANDIN_DATABASE_URL });
    await db.connect();
    await db.query(`UPDATE "applicationVersion" SET value = '9.9.9'`);
    await db.end();
    await resetLoadBalancer();
    const startsBefore = Object.fromEntries(containers.map((name) => [name, events(name).filter((entry) => entry.event === 'start').length]));
    const node1Before = events('standin-node-1').length;
    const mailBefore = receivedMail(stackEnv().SMTP_MAILDIR).length;

    const handle = await startFirstStart(suite.client);
    const error = await handle.result().catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, FailureType.NodeFailed);
    assert.match(error.cause.message, /failed at step start-first-node/);
    assert.match(error.cause.message, /APP_ERROR/);

    assert.deepEqual(await containerStates(), { 'standin-node-1': false, 'standin-node-2': false, 'standin-node-3': false });
    for (const other of ['standin-node-2', 'standin-node-3']) {
      assert.equal(events(other).filter((entry) => entry.event === 'start').length, startsBefore[other], `${other} must not start`);
    }
    // It refused, answered APP_ERROR until the procedure stopped it (it does not exit by itself).
    assert.deepEqual(events('standin-node-1').slice(node1Before).map((entry) => entry.event), ['start', 'refused', 'stop']);
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 503, 'the load balancer still shows the maintenance page');
    const mail = receivedMail(stackEnv().SMTP_MAILDIR).slice(mailBefore);
    assert.ok(mail.some((message) => /first start FAILED at start-first-node/.test(message.subject)), JSON.stringify(mail));
  });
});

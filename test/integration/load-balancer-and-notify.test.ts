import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createActivities } from '../../src/activities';
import { readMapFileEntry, writeMapFileEntry } from '../../src/adapters/haproxy/map-file';
import { FailureType } from '../../src/common/failure-types';
import { receivedMail } from '../support/maildir';
import { standinActivities, runActivity, stackConfig, stackDeps, stackEnv } from '../support/stack';
import { haproxyOf } from '../support/haproxy-config';

const cluster = 'standin';

describe('load balancer activities against the real HAProxy', () => {
  const suite = standinActivities();

  it('answers 503 with the maintenance page while no node is enabled', async () => {
    const response = await fetch(stackEnv().STANDIN_LB_URL);
    assert.equal(response.status, 503);
    assert.match(await response.text(), /maintenance/i);
  });

  it('puts a healthy node in rotation and reports it UP, then the LB answers 200', async () => {
    await runActivity(suite.activities.startNode, { cluster, node: 'node-1' });
    await runActivity(suite.activities.waitNodeReady, { cluster, node: 'node-1', requirePlugins: true });
    const states = await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'ready' });
    assert.equal(states[0]?.server, 'node-1');
    const serving = await runActivity(suite.activities.waitLoadBalancerServing, { cluster, nodes: ['node-1'] });
    assert.deepEqual(serving.map(({ server, status }) => ({ server, status })), [{ server: 'node-1', status: 'UP' }]);
    const response = await fetch(stackEnv().STANDIN_LB_URL);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-standin-node'), 'node-1');
  });

  it('switches the frontend to the 503 maintenance page and back, idempotently', async () => {
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: true });
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: true });
    const during = await fetch(stackEnv().STANDIN_LB_URL);
    assert.equal(during.status, 503);
    assert.match(await during.text(), /maintenance/i);
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: false });
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);
  });

  it('writes the switch to the map file too, so a reload keeps it; a map file the worker cannot write fails as LoadBalancerError', async () => {
    const { maintenanceMap } = haproxyOf(stackConfig().clusters.standin);
    // Another cluster's line (not the demo's: the real-NocoBase lane switches it meanwhile).
    await writeMapFileEntry(maintenanceMap, 'it-other-cluster', 'on');
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: true });
    assert.equal(await readMapFileEntry(maintenanceMap, cluster), 'on');
    assert.equal(await readMapFileEntry(maintenanceMap, 'it-other-cluster'), 'on', 'the other cluster\'s line is kept');
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: false });
    assert.equal(await readMapFileEntry(maintenanceMap, cluster), 'off');

    const unwritable = createActivities(stackDeps(stackConfig((standin) => {
      haproxyOf(standin).maintenanceMapFile = '/nonexistent-directory/maintenance.map';
    })));
    const error = await runActivity(unwritable.setMaintenanceMode, { cluster, on: false }).catch((caught: unknown) => caught);
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.type, FailureType.LoadBalancerError);
    assert.equal(error.nonRetryable, true);
    assert.match(error.message, /maintenanceMapFile/);
  });

  it('takes a node out of rotation', async () => {
    const [state] = await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'maint' });
    assert.equal(state?.status, 'MAINT');
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 503);
  });

  it('waits for drained servers, and gives up as LoadBalancerNotServing when a server never comes UP', async () => {
    const drained = await runActivity(suite.activities.waitServersDrained, { cluster, nodes: ['node-1'] });
    assert.deepEqual(drained.map(({ server, sessions }) => ({ server, sessions })), [{ server: 'node-1', sessions: 0 }]);

    // node-2 was never started: in rotation its health check fails, so it never comes UP.
    const impatient = createActivities(stackDeps(stackConfig((demo) => {
      demo.timeouts.loadBalancerReady = 1_500;
    })));
    await runActivity(impatient.setLoadBalancerServers, { cluster, nodes: ['node-2'], state: 'ready' });
    try {
      const error = await runActivity(impatient.waitLoadBalancerServing, { cluster, nodes: ['node-2'] }).catch((caught: unknown) => caught);
      assert.ok(error instanceof ApplicationFailure, String(error));
      assert.equal(error.type, FailureType.LoadBalancerNotServing);
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /not serving after 2s: .*"server":"node-2"/);
    } finally {
      await runActivity(impatient.setLoadBalancerServers, { cluster, nodes: ['node-2'], state: 'maint' });
    }
  });

  it('fails as LoadBalancerError, not retryable, when HAProxy lacks the configured backend', async () => {
    const config = stackConfig((demo) => {
      haproxyOf(demo).backend = 'no_such_backend';
    });
    const wrong = createActivities(stackDeps(config));
    const error = await runActivity(wrong.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'ready' }).catch((caught: unknown) => caught);
    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, FailureType.LoadBalancerError);
    assert.equal(error.nonRetryable, true);
  });
});

describe('notification activity against the real SMTP server', () => {
  it('delivers a mail to the cluster recipients', async () => {
    const deps = stackDeps();
    try {
      const subject = `integration ${Date.now()}`;
      const outcome = await runActivity(createActivities(deps).sendNotification, { cluster, subject, text: 'Body of the notice.' });
      assert.equal(outcome.sent, true);
      const mail = receivedMail(stackEnv().SMTP_MAILDIR).find((message) => message.subject.endsWith(subject));
      assert.ok(mail, 'the message is in the Maildir');
      assert.equal(mail.subject, `[nocobase-maintenance] standin: ${subject}`);
      assert.match(mail.to, /ops@demo\.test/);
      assert.match(mail.body, /Body of the notice\./);
      assert.match(mail.body, /Content-Type: text\/plain/i, 'a text part');
      assert.match(mail.body, /Content-Type: text\/html/i, 'and an HTML part');
      assert.match(mail.body, /<pre[^>]*>Body of the notice\.<\/pre>/);
    } finally {
      await deps.close();
    }
  });

  it('skips, saying why, when the cluster has no recipients', async () => {
    const deps = stackDeps(stackConfig((demo) => (demo.notifications.recipients = [])));
    try {
      const outcome = await runActivity(createActivities(deps).sendNotification, { cluster, subject: 'x', text: 'y' });
      assert.deepEqual(outcome, { sent: false, recipients: [], reason: 'the cluster has no notification recipients' });
    } finally {
      await deps.close();
    }
  });
});

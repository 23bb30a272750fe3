// test-lane: exclusive
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { taskQueue } from '../../src/client/task-queue';
import { rejectSignal, statusQuery } from '../../src/workflows/messages';
import { versionUpgrade } from '../../src/workflows';
import type { VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { fingerprint } from '../support/business-data';
import { ownDockerd, startDockerd, stopDockerd } from '../support/dockerd';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { stackDeps, stackEnv } from '../support/stack';

/**
 * In the exclusive lane: it stops the Docker Engine every lane's containers run on.
 */
describe('a Docker Engine outage during a rollback, on the stand-in cluster', () => {
  const suite = e2eSuite({ startCluster: true });
  const containers = ['standin-node-1', 'standin-node-2', 'standin-node-3'];

  it('finishes the rollback of a rejected upgrade once dockerd is back after 60 s: v1 serving, data as before', { timeout: 600_000 }, async (test) => {
    if (!(await ownDockerd())) {
      test.skip('the stack uses an external Docker Engine, which tests never stop');
      return;
    }
    const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    const handle = await suite.client.workflow.start(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2 }],
    });
    await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));
    // The outage begins as the rejection arrives: dockerd is gone before the rollback's first call.
    await stopDockerd();
    try {
      await handle.signal(rejectSignal, { by: 'ops@demo.test', reason: 'reports look wrong' });
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      const status = await handle.query(statusQuery);
      assert.notEqual(status.outcome, 'rolled-back', 'nothing can be rolled back while dockerd is away');
      assert.notEqual(status.outcome, 'failed', `the rollback gave up while dockerd was away: ${JSON.stringify(status.error)}`);
    } finally {
      await startDockerd();
    }
    const result = (await handle.result()) as VersionUpgradeResult;
    assert.equal(result.outcome, 'rolled-back');
    const docker = stackDeps().docker(stackEnv().DOCKER_HOST);
    const images = await Promise.all(containers.map(async (name) => (await docker.getContainer(name).inspect()).Config.Image));
    assert.deepEqual(images, containers.map(() => stackEnv().STANDIN_IMAGE_V1));
    assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before);
    const response = await until('the load balancer to serve', async () => {
      const answer = await fetch(stackEnv().STANDIN_LB_URL);
      return answer.status === 200 ? answer : undefined;
    });
    assert.equal(response.headers.get('x-standin-version'), '1.6.0');
  });
});

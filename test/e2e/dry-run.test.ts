import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { taskQueue } from '../../src/client/task-queue';
import type { DryRunPlan } from '../../src/workflows/dry-run';
import { fingerprint } from '../support/business-data';
import { STANDIN_WORKFLOW_ID, e2eSuite } from '../support/e2e-suite';
import { receivedMail } from '../support/maildir';
import { stackDeps, stackEnv } from '../support/stack';
import { inAppMaintenance, versionUpgrade } from '../../src/workflows';

/** Everything a procedure could change: containers, data, load balancer answers, mail. */
async function world() {
  const docker = stackDeps().docker(stackEnv().DOCKER_HOST);
  const containers = await Promise.all(
    ['standin-node-1', 'standin-node-2', 'standin-node-3'].map(async (name) => {
      const info = await docker.getContainer(name).inspect();
      return { name, id: info.Id, image: info.Config.Image, running: info.State.Running, startedAt: info.State.StartedAt };
    }),
  );
  const lb = await fetch(stackEnv().STANDIN_LB_URL);
  return { containers, data: await fingerprint(stackEnv().STANDIN_DATABASE_URL), lb: lb.status, mail: receivedMail(stackEnv().SMTP_MAILDIR).length };
}

describe('dry runs on the 3-node stand-in cluster change nothing', () => {
  const suite = e2eSuite({ startCluster: true });

  it('returns the upgrade and in-app maintenance plans while containers, data, load balancer and mail stay as they were', async () => {
    const before = await world();
    const upgrade = (await suite.client.workflow.execute(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId: STANDIN_WORKFLOW_ID,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2, dryRun: true }],
    })) as DryRunPlan;
    const maintenance = (await suite.client.workflow.execute(inAppMaintenance, {
      taskQueue: taskQueue(),
      workflowId: STANDIN_WORKFLOW_ID,
      args: [{ cluster: 'standin', operations: [{ type: 'pm', args: ['enable', 'map'] }, { type: 'backup' }], dryRun: true }],
    })) as DryRunPlan;
    assert.deepEqual(await world(), before);

    assert.equal(upgrade.currentVersion, '1.6.0');
    assert.equal(upgrade.target?.image, stackEnv().STANDIN_IMAGE_V2);
    assert.deepEqual(upgrade.problems, []);
    assert.equal(upgrade.backup?.method, 'pg_dump');
    assert.ok((upgrade.backup?.databaseBytes ?? 0) > 0);
    assert.deepEqual(maintenance.operations, ['pm enable map', 'backup']);
    assert.deepEqual(maintenance.problems, []);
  });
});

import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { taskQueue } from '../../src/client/task-queue';
import { FailureType } from '../../src/common/failure-types';
import type { DryRunPlan } from '../../src/workflows/dry-run';
import { statusQuery } from '../../src/workflows/messages';
import { inAppMaintenance, versionUpgrade } from '../../src/workflows';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { stackDeps, stackEnv } from '../support/stack';

/** Every container of the stand-in cluster (saved `-pre-` ones too): name, image and whether it runs. */
async function containerStates(): Promise<string[]> {
  const docker = stackDeps().docker(stackEnv().DOCKER_HOST);
  const listed = await docker.listContainers({ all: true });
  return listed
    .flatMap((container) => container.Names.map((name) => ({ name: name.replace(/^\//, ''), container })))
    .filter(({ name }) => name.startsWith('standin-node-'))
    .map(({ name, container }) => `${name} ${container.Image} ${container.State}`)
    .sort();
}

describe('what a terminated run leaves behind, on the stand-in cluster', () => {
  const suite = e2eSuite({ startCluster: true });

  it('makes the next procedure refuse before touching anything, listing each leftover with its recovery command; the dry run lists the same', async () => {
    const upgrade = await suite.client.workflow.start(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2, backupMethod: 'clone' }],
    });
    await until('the decision request', async () => ((await upgrade.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));
    // What the README calls unsafe: no undo runs.
    await upgrade.terminate('an operator ended it by hand');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const before = await containerStates();
    assert.ok(before.some((line) => /^standin-node-1-pre-/.test(line)), `the saved container is there: ${before.join('; ')}`);
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 503, 'the maintenance page is still on');

    const refused = await suite.client.workflow.execute(inAppMaintenance, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'standin' }] }).catch((error: unknown) => error);
    assert.ok(refused instanceof WorkflowFailedError && refused.cause instanceof ApplicationFailure, String(refused));
    assert.equal(refused.cause.type, FailureType.LeftoversFound);
    const message = refused.cause.message;
    assert.match(message, /Nothing was touched/);
    assert.match(message, /saved container standin-node-1-pre-[0-9a-f]+.*DOCKER_HOST=\S+ docker rm standin-node-1-pre-/s, message);
    assert.match(message, /clone backup .*_bk_/s, message);
    assert.match(message, /maintenance page on, map key standin.*set map .* standin off/s, message);
    assert.deepEqual(await containerStates(), before, 'no container was touched');
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 503);

    const plan = (await suite.client.workflow.execute(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2, dryRun: true }],
    })) as DryRunPlan;
    assert.ok(plan.problems.some((problem) => problem.includes('saved container standin-node-1-pre-')), JSON.stringify(plan.problems));
    assert.deepEqual(await containerStates(), before, 'the dry run touched nothing either');
  });
});

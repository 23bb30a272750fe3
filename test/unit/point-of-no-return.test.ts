import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { fleetWorkflowId, type FleetUpgradeInput } from '../../src/procedures/fleet-upgrade';
import { fleetUpgrade, versionUpgrade } from '../../src/workflows';
import type { FleetUpgradeResult } from '../../src/workflows/fleet-upgrade';
import { abandonUpdate, abortUpdate, approveSignal, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { failWith, servingMockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';

// The point of no return (users work on the new version) and what comes after it: a failure or a
// fleet's abort must neither undo the upgrade without asking nor leave it waiting for a person.

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const TARGET = 'registry.test/nocobase:1.7.0';

const runningCluster = servingMockCluster;

type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;
const upgradeOf = (cluster: string) => env.client.workflow.getHandle(procedureWorkflowId(cluster)) as Upgrade;

/** Polls `look` until it returns something other than undefined. */
async function until<T>(look: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const seen = await look();
    if (seen !== undefined) return seen;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail(`never happened: ${what}`);
}

const statusWhen = (handle: Upgrade, what: (status: ProcedureStatus) => boolean) => async () => {
  const status = await handle.query(statusQuery).catch(() => undefined);
  return status && what(status) ? status : undefined;
};

describe('the point of no return', () => {
  it('is passed once HAProxy is asked to drop the maintenance page: a switch that fails halfway asks before undoing', async () => {
    // HAProxy's memory switched (users reach the new version), then the map file could not be written.
    const mock = runningCluster({ setMaintenanceMode: ({ on }) => (on ? undefined : failWith(FailureType.LoadBalancerError, 'cannot write the maintenance map file /etc/haproxy/maintenance.map (EACCES)')) });
    const cluster = mock.plan.cluster;
    const failure = await withMockedWorker(env, mock.activities, async (taskQueue) => {
      const handle = (await env.client.workflow.start(versionUpgrade, { taskQueue, workflowId: procedureWorkflowId(cluster), args: [{ cluster, image: TARGET }] })) as Upgrade;
      await until(statusWhen(handle, (status) => status.approval?.state === 'awaiting'), 'the upgrade asks for a decision');
      await handle.signal(approveSignal, { by: 'alice' });
      const blocked = await until(statusWhen(handle, (status) => status.rollback?.state === 'blocked'), 'the undo stops for a person');
      assert.ok(blocked.pointOfNoReturn, 'the status says users may work on the new version');
      assert.ok(!mock.calls.includes('restoreDatabase'), `the database is not put back without a confirmation: ${mock.calls.join(' ')}`);
      assert.ok(!mock.calls.includes('restoreNodeImage:node-1'), 'nor node-1 put back on the old image');
      assert.match(blocked.rollback?.dataLoss ?? '', /loses what they did since/);
      await handle.executeUpdate(abandonUpdate, { args: [{ by: 'alice', reason: 'fixing the map file by hand' }] });
      return handle.result().then(() => assert.fail('expected the upgrade to fail'), (error: unknown) => error);
    });
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure, String(failure));
    assert.equal(failure.cause.type, FailureType.LoadBalancerError);
    assert.match(failure.cause.message, /after the point of no return .*the new state keeps serving/);
  });

  it('lets a fleet abort that comes after it leave the cluster upgraded, asking no one', async () => {
    const name = `pnr-${randomUUID().slice(0, 6)}`;
    let serving = false;
    let cancelled = false;
    // The last wait of restore-traffic (the public URL) lasts until the test lets it answer.
    const mock = runningCluster({
      waitLoadBalancerServing: async ({ nodes, publicUrl }) => {
        const context = Context.current();
        try {
          while (publicUrl !== false && !serving) {
            context.heartbeat();
            await context.sleep(100);
          }
        } catch (error) {
          cancelled = context.cancellationSignal.aborted;
          throw error;
        }
        return nodes.map((server) => ({ server, status: 'UP', sessions: 0 }));
      },
    });
    const cluster = mock.plan.cluster;
    const upgrade = upgradeOf(cluster);
    const { result, status } = await withMockedWorker(env, mock.activities, async (taskQueue) => {
      const input: FleetUpgradeInput = { name, clusters: [cluster], image: TARGET, watchEvery: '0s' };
      const fleet = await env.client.workflow.start(fleetUpgrade, { taskQueue, workflowId: fleetWorkflowId(name), args: [input] });
      await until(statusWhen(upgrade, (now) => now.approval?.state === 'awaiting'), 'the upgrade asks for a decision');
      await upgrade.signal(approveSignal, { by: 'alice' });
      await until(statusWhen(upgrade, (now) => now.pointOfNoReturn !== undefined), 'traffic comes back');
      await fleet.executeUpdate(abortUpdate, { args: [{ by: 'alice', reason: 'wrong image' }] });
      // The upgrade either notes the abort and goes on, or its last wait is cancelled.
      await until(async () => (cancelled || (await statusWhen(upgrade, (now) => now.pointOfNoReturn?.cancelRequestedAt !== undefined)()) ? true : undefined), 'the upgrade hears of the abort');
      assert.equal(cancelled, false, 'the wait after the point of no return is not cancelled');
      serving = true;
      return { result: (await fleet.result()) as FleetUpgradeResult, status: await upgrade.query(statusQuery) };
    });
    assert.equal(result.outcome, 'aborted');
    assert.equal(result.clusters[cluster]?.state, 'upgraded');
    assert.match(result.clusters[cluster]?.reason ?? '', /after its point of no return/);
    assert.equal(status.rollback, undefined, 'no person was asked');
    assert.ok(!mock.calls.includes('restoreDatabase') && !mock.calls.includes('restoreNodeImage:node-1'), mock.calls.join(' '));
    assert.ok(mock.calls.includes('discardSavedNode:node-1:done'), 'the upgrade finished its cleanup');
  });
});

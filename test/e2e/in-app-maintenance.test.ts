import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { taskQueue } from '../../src/client/task-queue';
import type { InAppMaintenanceInput, InAppMaintenanceResult } from '../../src/workflows/in-app-maintenance';
import { approveSignal, maintenanceDoneSignal, rejectSignal, statusQuery, type ProcedureStatus } from '../../src/workflows/messages';
import { startProber } from '../support/prober';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { pluginState } from '../support/business-data';
import { stackEnv } from '../support/stack';
import { inAppMaintenance, versionUpgrade } from '../../src/workflows';

type Maintenance = WorkflowHandle<(input: InAppMaintenanceInput) => Promise<InAppMaintenanceResult>>;

const plugin = (name: string) => pluginState(stackEnv().STANDIN_DATABASE_URL, name);

/**
 * Requests through the load balancer until every node has answered (at most 200): which nodes
 * answered, and any non-200. Right after servers come back HAProxy's round robin lets the newcomers
 * catch up first, so a fixed handful of requests may miss the node that served alone.
 */
async function servedBy(): Promise<{ nodes: string[]; errors: unknown[] }> {
  const nodes = new Set<string>();
  const errors: unknown[] = [];
  for (let i = 0; i < 200 && nodes.size < 3; i++) {
    const response = await fetch(stackEnv().STANDIN_LB_URL);
    if (response.status !== 200) errors.push(response.status);
    nodes.add(response.headers.get('x-standin-node') ?? '?');
  }
  return { nodes: [...nodes].sort(), errors };
}

const status = (handle: Maintenance, what: string, ready: (status: ProcedureStatus) => boolean): Promise<true> =>
  until(what, async () => (ready(await handle.query(statusQuery)) ? true : undefined));

describe('inAppMaintenance on the 3-node stand-in cluster, through the real worker process', () => {
  const suite = e2eSuite({ startCluster: true });

  const start = async (input: Partial<InAppMaintenanceInput>) =>
    (await suite.client.workflow.start(inAppMaintenance, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'standin', ...input }] })) as Maintenance;

  it('applies plugin operations and a backup on one node that alone serves, then every node serves again', async () => {
    const prober = startProber(stackEnv().STANDIN_LB_URL, { intervalMs: 50 });
    const handle = await start({ operations: [{ type: 'pm', args: ['add', 'map'] }, { type: 'pm', args: ['enable', 'map'] }, { type: 'backup' }] });
    await status(handle, 'the decision request', (status) => status.approval?.state === 'awaiting');
    await handle.signal(approveSignal, { by: 'alice' });
    const result = await handle.result();
    const probes = await prober.stop();

    assert.equal(result.outcome, 'completed');
    assert.deepEqual(await plugin('map'), { enabled: true, installed: true });
    assert.deepEqual(result.operations.map((operation) => [operation.operation, operation.ok]), [['pm add map', true], ['pm enable map', true], ['backup', true]]);
    assert.ok(result.backup?.checksum);

    assert.deepEqual(probes.filter((probe) => probe.status !== 200 && probe.status !== 503), [], 'no request failed, in or out of maintenance');
    const step = (name: string) => result.steps.find((entry) => entry.step === name)!;
    // `pm add` leaves an upgrade pending: node-1 restarts alone within the maintenance step, behind
    // the maintenance page; that is the only time users see it.
    const maintenance = step('maintenance');
    const paged = probes.filter((probe) => probe.status === 503);
    assert.ok(paged.length > 0, 'the page was shown while node-1 restarted alone');
    assert.deepEqual(paged.filter((probe) => probe.at < Date.parse(maintenance.startedAt) || probe.at > Date.parse(maintenance.endedAt!) + 100), [], 'the page only during the maintenance step');
    const alone = probes.filter((probe) => probe.status === 200 && probe.at > Date.parse(step('reduce-to-one-node').endedAt!) && probe.at < Date.parse(step('restore-nodes').startedAt));
    assert.ok(alone.length > 5, `the prober ran during the maintenance (${alone.length} probes)`);
    assert.deepEqual([...new Set(alone.map((probe) => probe.node))], ['node-1'], 'only the remaining node answered');
    assert.deepEqual(await servedBy(), { nodes: ['node-1', 'node-2', 'node-3'], errors: [] });
  });

  it('restores every node after a failing operation and names it with its output', async () => {
    const handle = await start({ operations: [{ type: 'pm', args: ['enable', 'no-such-plugin'] }] });
    const error = await handle.result().catch((caught: unknown) => caught);
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, FailureType.OperationFailed);
    assert.match(error.cause.message, /operation "pm enable no-such-plugin"/);
    const [details] = error.cause.details as [{ failedOperation: { output: string } }];
    assert.match(details.failedOperation.output, /no-such-plugin/);
    assert.deepEqual(await servedBy(), { nodes: ['node-1', 'node-2', 'node-3'], errors: [] });
  });

  it('waits for maintenanceDone, refuses a second procedure meanwhile, and restores every node when rejected', async () => {
    const handle = await start({});
    await status(handle, 'the manual work', (status) => /maintenanceDone/.test(status.waitingFor ?? ''));
    assert.deepEqual((await servedBy()).nodes, ['node-1']);

    await assert.rejects(
      suite.client.workflow.start(versionUpgrade, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'standin', image: stackEnv().STANDIN_IMAGE_V2 }] }),
      WorkflowExecutionAlreadyStartedError,
    );

    await handle.signal(maintenanceDoneSignal, { by: 'ops@demo.test' });
    await status(handle, 'the decision request', (status) => status.approval?.state === 'awaiting');
    await handle.signal(rejectSignal, { by: 'alice', reason: 'not what we wanted' });
    const result = await handle.result();
    assert.equal(result.outcome, 'rejected');
    assert.equal(result.maintenanceDoneBy, 'ops@demo.test');
    assert.deepEqual(await servedBy(), { nodes: ['node-1', 'node-2', 'node-3'], errors: [] });
  });

  it('restores every node when nobody decides in time', async () => {
    const handle = await start({ operations: [{ type: 'pm', args: ['add', 'map'] }], approval: { timeout: '2s' } });
    const result = await handle.result();
    assert.equal(result.outcome, 'rejected');
    assert.match(result.reason ?? '', /nobody decided/);
    assert.deepEqual(await servedBy(), { nodes: ['node-1', 'node-2', 'node-3'], errors: [] });
  });
});

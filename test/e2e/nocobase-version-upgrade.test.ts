// test-lane: nocobase
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { taskQueue } from '../../src/client/task-queue';
import { approveSignal, rejectSignal, statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import { versionUpgrade } from '../../src/workflows';
import { DEMO_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { createBusinessData, listRecords, recordedVersion, tableChecksums, type NocobaseLogin } from '../support/nocobase-api';
import { appVersion, containerImages, observeNodes } from '../support/nocobase-observer';
import { demoStorageListing } from '../support/storage-listing';
import { stackConfig, stackEnv } from '../support/stack';
import { dockerNodesOf } from '../../src/config/schema';

// Real NocoBase on the stack's `demo` cluster: 2.2.14 (the 2.2.15 release relabelled, a test
// fixture) to 2.2.15, whose quickstart runs NocoBase's own upgrade. One first start for the file,
// then each test leaves the cluster on 2.2.14 serving, as it found it; the approved upgrade runs last.
const containers = ['demo-node-1', 'demo-node-2', 'demo-node-3'];
type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;

/**
 * What every running node rewrites by itself, so no rollback can keep it equal: the storage's logs
 * (each process appends to them) and its pid and temporary files.
 */
const VOLATILE_STORAGE = ['logs', '.pids', 'tmp', 'cache'];

const login = (): NocobaseLogin => ({ email: stackEnv().DEMO_ROOT_EMAIL, password: stackEnv().DEMO_ROOT_PASSWORD });
const checksums = () => tableChecksums(stackEnv().DATABASE_URL);
const awaitingDecision = (handle: Upgrade) =>
  until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined), 300_000);

/** The tables whose rows differ between two checksum maps (or exist in one only). */
function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((table) => before[table] !== after[table]).sort();
}

describe('versionUpgrade on three real NocoBase nodes, through the real worker process', () => {
  const suite = e2eSuite({ startCluster: true, cluster: 'demo', once: true });
  let records: Record<string, unknown>[];

  before(async () => {
    // Through node-1, not the LB: without NocoBase's commercial sync adapter the other nodes learn
    // of a new collection only when they restart, which every test here makes them do.
    const node1 = new URL(dockerNodesOf(stackConfig().clusters.demo!)[0]!.healthUrl).origin;
    await createBusinessData(node1, login(), 20);
    records = await listRecords(node1, login());
    assert.equal(records.length, 20);
  });

  async function startUpgrade(input: Partial<VersionUpgradeInput> = {}): Promise<Upgrade> {
    return (await suite.client.workflow.start(versionUpgrade, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'demo', image: stackEnv().DEMO_IMAGE_V2, ...input }],
    })) as Upgrade;
  }

  async function assertServingV1(): Promise<void> {
    assert.deepEqual(await containerImages(containers), containers.map(() => stackEnv().DEMO_IMAGE_V1));
    assert.equal((await fetch(`${stackEnv().LB_URL}/api/__health_check`)).status, 200);
    assert.equal(await appVersion(stackEnv().LB_URL), '2.2.14');
  }

  it('rolls back image, data and storage when rejected: 2.2.14 serving, every table and storage file as before', async () => {
    const tablesBefore = await checksums();
    const storageBefore = await demoStorageListing(VOLATILE_STORAGE);
    const handle = await startUpgrade();
    await awaitingDecision(handle);
    assert.equal(await recordedVersion(stackEnv().DATABASE_URL), '2.2.15', 'node-1 ran NocoBase\'s upgrade');
    await handle.signal(rejectSignal, { by: 'ops@demo.test', reason: 'reports look wrong' });
    const result = await handle.result();

    assert.equal(result.outcome, 'rolled-back');
    assert.deepEqual(changedTables(tablesBefore, await checksums()), [], 'every table holds the rows it held before');
    assert.equal(await demoStorageListing(VOLATILE_STORAGE), storageBefore, 'the storage files are back byte for byte');
    await assertServingV1();
    assert.deepEqual(await listRecords(stackEnv().LB_URL, login()), records);
  });

  it('rolls back on its own within seconds of APP_ERROR when the target fails its migration', async () => {
    const tablesBefore = await checksums();
    const nodes = stackConfig().clusters.demo!.nodes;
    const observer = observeNodes(Object.fromEntries(dockerNodesOf({ nodes }).map((node) => [node.name, node.healthUrl])));
    const handle = await startUpgrade({ image: stackEnv().DEMO_IMAGE_BROKEN });
    const error = await handle.result().catch((caught: unknown) => caught);
    const { samples } = await observer.stop();
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, FailureType.NodeFailed);
    assert.match(error.cause.message, /APP_ERROR/);

    // From the first APP_ERROR a 200 ms poll saw to the first activity the workflow scheduled after
    // the readiness wait failed (the rollback's first step).
    const appError = samples.find((sample) => sample.code === 'APP_ERROR');
    assert.ok(appError, `no node answered APP_ERROR: ${JSON.stringify(samples)}`);
    const events = (await handle.fetchHistory()).events ?? [];
    const failedAt = events.findIndex((event) => event.activityTaskFailedEventAttributes);
    const rollback = events.slice(failedAt).find((event) => event.activityTaskScheduledEventAttributes);
    assert.ok(failedAt >= 0 && rollback?.eventTime, 'the history shows the failed wait and the rollback');
    const rollbackAt = Number(rollback.eventTime.seconds) * 1000 + Math.floor((rollback.eventTime.nanos ?? 0) / 1e6);
    const afterMs = rollbackAt - appError.at;
    process.stdout.write(`# rollback (${rollback.activityTaskScheduledEventAttributes!.activityType?.name}) started ${afterMs} ms after ${appError.node} answered APP_ERROR\n`);
    assert.ok(afterMs < 10_000, `rollback started ${afterMs} ms after APP_ERROR`);

    assert.deepEqual(changedTables(tablesBefore, await checksums()), [], 'every table holds the rows it held before');
    await assertServingV1();
    assert.deepEqual(await listRecords(stackEnv().LB_URL, login()), records);
  });

  it('upgrades 2.2.14 to 2.2.15 once approved: NocoBase records the new version, every business record intact', async () => {
    const handle = await startUpgrade();
    await awaitingDecision(handle);
    await handle.signal(approveSignal, { by: 'alice', comment: 'smoke test passed' });
    const result = await handle.result();

    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual(await containerImages(containers), containers.map(() => stackEnv().DEMO_IMAGE_V2));
    assert.equal(await recordedVersion(stackEnv().DATABASE_URL), '2.2.15');
    assert.equal(await appVersion(stackEnv().LB_URL), '2.2.15');
    for (const node of dockerNodesOf(stackConfig().clusters.demo!)) assert.equal((await fetch(node.healthUrl)).status, 200, node.name);
    assert.deepEqual(await listRecords(stackEnv().LB_URL, login()), records);
  });
});

import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { restartPolicyFrom, setRestartPolicy, type RestartPolicy } from '../../src/adapters/docker/restart-policy';
import { savedContainerName } from '../../src/activities/nodes/image-replacement';
import { FailureType } from '../../src/common/failure-types';
import { connectDocker } from '../../src/adapters/docker/connection';
import { runActivity, stackEnv, standinActivities } from '../support/stack';

const cluster = 'standin';
// Unique per run: saved containers are outside what the stand-in reset removes, so after() does.
const label = `rp${process.pid}`;
/** Where a held policy is recorded, as the README tells a person to look: a labelled volume named after the container. */
const heldPolicyRecordName = (container: string) => `${container}-held-restart-policy`;

describe('restart policies held off while a procedure holds nodes, against the real Docker engine', () => {
  const suite = standinActivities();
  const docker = connectDocker(stackEnv().DOCKER_HOST);
  const policyOf = async (container: string) => restartPolicyFrom((await docker.getContainer(container).inspect()).HostConfig);

  before(async () => {
    // The stack's nodes are created with `no`; a production node has `always`.
    await setRestartPolicy(docker, 'standin-node-2', { name: 'always' });
    await setRestartPolicy(docker, 'standin-node-3', { name: 'always' });
  });

  after(async () => {
    const leftovers = await docker.listContainers({ all: true, filters: { name: [`-pre-${label}`] } });
    await Promise.all(leftovers.map((container) => docker.getContainer(container.Id).remove({ force: true })));
    // Records these tests left (a failed assertion stops before the restore that removes them).
    const { Volumes: records } = await docker.listVolumes({ filters: { label: ['nocobase-maintenance.held-restart-policy'] } });
    await Promise.all((records ?? []).filter((volume) => volume.Name.startsWith('standin-')).map((volume) => docker.getVolume(volume.Name).remove()));
  });

  it('suspends `always` to `no`, returning `always`, and gives it back on restore', async () => {
    const suspended = await runActivity(suite.activities.suspendRestartPolicy, { cluster, node: 'node-2' });
    assert.deepEqual(suspended, { node: 'node-2', container: 'standin-node-2', policy: { name: 'always' }, changed: true });
    assert.deepEqual(await policyOf('standin-node-2'), { name: 'no' });

    // A start and stop while suspended (what a verification does) keep `no`.
    await docker.getContainer('standin-node-2').start();
    await docker.getContainer('standin-node-2').stop({ t: 1 });
    assert.deepEqual(await policyOf('standin-node-2'), { name: 'no' });

    const restored = await runActivity(suite.activities.restoreRestartPolicy, { cluster, node: 'node-2', policy: suspended.policy });
    assert.deepEqual(restored, { node: 'node-2', container: 'standin-node-2', policy: { name: 'always' }, changed: true });
    assert.deepEqual(await policyOf('standin-node-2'), { name: 'always' });
    const again = await runActivity(suite.activities.restoreRestartPolicy, { cluster, node: 'node-2', policy: suspended.policy });
    assert.equal(again.changed, false, 'restoring twice changes nothing');
  });

  it('on a retry after a lost result, returns the policy the first attempt recorded, not `no`', async () => {
    await setRestartPolicy(docker, 'standin-node-2', { name: 'no' }); // the first attempt's update
    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { previous: { name: 'always' } } }, { logger: new DefaultLogger('ERROR') });
    const outcome = await retry.run(suite.activities.suspendRestartPolicy, { cluster, node: 'node-2' });
    assert.deepEqual(outcome, { node: 'node-2', container: 'standin-node-2', policy: { name: 'always' }, changed: false });
    // Without anything recorded, a container already at `no` had `no`.
    const plain = await runActivity(suite.activities.suspendRestartPolicy, { cluster, node: 'node-2' });
    assert.deepEqual(plain.policy, { name: 'no' });
    assert.equal(plain.changed, false);
  });

  it('suspended before an image replacement, neither the replacement nor the saved -pre- container has `always`; restore gives it to the live one only', async () => {
    const { STANDIN_IMAGE_V2: v2 } = stackEnv();
    await runActivity(suite.activities.ensureImages, { cluster, images: [v2] });
    const suspended = await runActivity(suite.activities.suspendRestartPolicy, { cluster, node: 'node-3' });
    assert.deepEqual(suspended.policy, { name: 'always' });
    await runActivity(suite.activities.replaceNodeImage, { cluster, node: 'node-3', image: v2, label });
    const saved = savedContainerName('standin-node-3', label);
    assert.deepEqual(await policyOf('standin-node-3'), { name: 'no' }, 'the replacement copies the suspended policy');
    assert.deepEqual(await policyOf(saved), { name: 'no' }, 'the saved previous container is not left with always');

    await runActivity(suite.activities.restoreRestartPolicy, { cluster, node: 'node-3', policy: suspended.policy });
    assert.deepEqual(await policyOf('standin-node-3'), { name: 'always' });
    assert.deepEqual(await policyOf(saved), { name: 'no' });
  });

  it('keeps on-failure with its retry count, and refuses an unknown policy as InvalidInput', async () => {
    const onFailure: RestartPolicy = { name: 'on-failure', maximumRetryCount: 3 };
    await runActivity(suite.activities.restoreRestartPolicy, { cluster, node: 'node-1', policy: onFailure });
    const suspended = await runActivity(suite.activities.suspendRestartPolicy, { cluster, node: 'node-1' });
    assert.deepEqual(suspended.policy, onFailure);
    await runActivity(suite.activities.restoreRestartPolicy, { cluster, node: 'node-1', policy: suspended.policy });
    assert.deepEqual(await policyOf('standin-node-1'), onFailure);

    const error = await runActivity(suite.activities.restoreRestartPolicy, { cluster, node: 'node-1', policy: { name: 'sometimes' } as unknown as RestartPolicy }).catch((caught: unknown) => caught);
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.type, FailureType.InvalidInput);
    assert.equal(error.nonRetryable, true);
  });

  it('records the suspended policy on the node\'s Docker host, where the next run and a person read it, until it is given back', async () => {
    await setRestartPolicy(docker, 'standin-node-2', { name: 'always' });
    const record = heldPolicyRecordName('standin-node-2');
    await runActivity(suite.activities.suspendRestartPolicy, { cluster, node: 'node-2' });
    // A person: `docker volume inspect standin-node-2-held-restart-policy` shows what to give back.
    const labels = (await docker.getVolume(record).inspect()).Labels;
    assert.equal(labels['nocobase-maintenance.held-restart-policy'], 'always');
    assert.equal(labels['nocobase-maintenance.container'], 'standin-node-2');

    // The next run (its workflow memory gone, no heartbeat) gets `always` back, not the `no` it finds.
    const next = await runActivity(suite.activities.suspendRestartPolicy, { cluster, node: 'node-2' });
    assert.deepEqual(next.policy, { name: 'always' });
    // ... and its pre-flight names the node, with the command that gives the policy back.
    const held = (await runActivity(suite.activities.findLeftovers, { cluster })).filter((leftover) => leftover.kind === 'suspended-restart-policy');
    assert.deepEqual(held.map((leftover) => leftover.name), ['standin-node-2']);
    assert.match(held[0]!.recovery, /docker update --restart always standin-node-2/);
    assert.match(held[0]!.recovery, new RegExp(`docker volume rm ${record}`));

    await runActivity(suite.activities.restoreRestartPolicy, { cluster, node: 'node-2', policy: next.policy });
    assert.deepEqual(await policyOf('standin-node-2'), { name: 'always' });
    await assert.rejects(docker.getVolume(record).inspect(), 'given back, the record goes');
    const after = (await runActivity(suite.activities.findLeftovers, { cluster })).filter((leftover) => leftover.kind === 'suspended-restart-policy');
    assert.deepEqual(after, []);
  });

  it('when asked to give a policy back only to a running node, keeps a stopped one at `no` with its record', async () => {
    await setRestartPolicy(docker, 'standin-node-3', { name: 'unless-stopped' });
    const suspended = await runActivity(suite.activities.suspendRestartPolicy, { cluster, node: 'node-3' });
    await docker.getContainer('standin-node-3').stop({ t: 1 }).catch(() => undefined);
    const kept = await runActivity(suite.activities.restoreRestartPolicy, { cluster, node: 'node-3', policy: suspended.policy, ifRunning: true });
    assert.equal(kept.changed, false);
    assert.deepEqual(await policyOf('standin-node-3'), { name: 'no' });
    assert.equal((await docker.getVolume(heldPolicyRecordName('standin-node-3')).inspect()).Labels['nocobase-maintenance.held-restart-policy'], 'unless-stopped');

    await docker.getContainer('standin-node-3').start();
    const given = await runActivity(suite.activities.restoreRestartPolicy, { cluster, node: 'node-3', policy: suspended.policy, ifRunning: true });
    assert.equal(given.changed, true);
    assert.deepEqual(await policyOf('standin-node-3'), { name: 'unless-stopped' });
    await assert.rejects(docker.getVolume(heldPolicyRecordName('standin-node-3')).inspect());
  });
});

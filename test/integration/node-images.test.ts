import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { REPLACED_FROM_LABEL } from '../../src/adapters/docker/container-definition';
import { createNodeImageActivities, savedContainerName } from '../../src/activities/nodes/image-replacement';
import { FailureType } from '../../src/common/failure-types';
import { connectDocker } from '../../src/adapters/docker/connection';
import { standinActivities, runActivity, stackEnv } from '../support/stack';

const cluster = 'standin';
// Unique per run: saved containers are outside what the demo reset removes, so after() does.
const label = `it${process.pid}`;

/** The Engine merges its default ulimits into every inspect, in map order: compare them sorted. */
function comparable(host: Docker.HostConfig): Docker.HostConfig {
  return { ...host, Ulimits: [...(host.Ulimits ?? [])].sort((a, b) => (a.Name ?? '').localeCompare(b.Name ?? '')) };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(() => assert.fail('expected the activity to fail'), (caught: unknown) => caught);
  assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error;
}

describe('node image replacement against the real Docker engine', () => {
  const suite = standinActivities();
  // Our own client: the suite's deps are closed by the shared after() before ours runs.
  const docker = connectDocker(stackEnv().DOCKER_HOST);
  const { STANDIN_IMAGE_V1: v1, STANDIN_IMAGE_V2: v2 } = stackEnv();
  let images: ReturnType<typeof createNodeImageActivities>;
  let original: Docker.ContainerInspectInfo;
  let firstResult: Awaited<ReturnType<typeof images.replaceNodeImage>>;

  const inspect = (name: string) => docker.getContainer(name).inspect();
  const exists = (name: string) => inspect(name).then(() => true, () => false);

  before(async () => {
    images = createNodeImageActivities(suite.deps);
    await runActivity(suite.activities.ensureImages, { cluster, images: [v2] });
    original = await inspect('standin-node-1');
  });

  after(async () => {
    const leftovers = await docker.listContainers({ all: true, filters: { name: [`-pre-${label}`] } });
    await Promise.all(leftovers.map((container) => docker.getContainer(container.Id).remove({ force: true })));
  });

  it('replaces a stopped node with one on the new image, keeping what the container was given', async () => {
    firstResult = await runActivity(images.replaceNodeImage, { cluster, node: 'node-1', image: v2, label });
    assert.deepEqual(firstResult, {
      node: 'node-1', container: 'standin-node-1', previousImage: v1, image: v2, savedAs: `standin-node-1-pre-${label}`, changed: true,
    });

    const replaced = await inspect('standin-node-1');
    const v2Config = (await docker.getImage(v2).inspect()).Config;
    assert.notEqual(replaced.Id, original.Id);
    assert.equal(replaced.Config.Image, v2);
    const own = original.Config.Env.filter((entry) => /^(APP_PORT|DB_|APP_KEY|STANDIN_)/.test(entry));
    assert.ok(own.some((entry) => entry.startsWith('DB_PASSWORD=')) && own.some((entry) => entry.startsWith('STANDIN_EVENTS_FILE=')));
    for (const entry of own) assert.ok(replaced.Config.Env.includes(entry), `${entry.split('=')[0]} kept`);
    for (const entry of v2Config.Env) assert.ok(replaced.Config.Env.includes(entry), `${entry} comes from the new image`);
    assert.deepEqual(comparable(replaced.HostConfig), comparable(original.HostConfig), 'the whole HostConfig is kept');
    assert.deepEqual(replaced.HostConfig.Binds, original.HostConfig.Binds);
    assert.equal(replaced.HostConfig.NetworkMode, 'host');
    assert.deepEqual(replaced.HostConfig.RestartPolicy, original.HostConfig.RestartPolicy);
    assert.equal(replaced.Config.Labels['nocobase-maintenance.cluster'], 'standin');
    assert.equal(replaced.Config.Labels['nocobase-maintenance.node'], 'node-1');
    assert.equal(replaced.Config.Labels['org.opencontainers.image.version'], '1.7.0', 'the version label is the new image\'s, not frozen');
    assert.equal(replaced.Config.Labels[REPLACED_FROM_LABEL], v1);
    assert.deepEqual(replaced.Config.Cmd, v2Config.Cmd);
  });

  it('keeps the previous container, stopped and untouched, under the saved name', async () => {
    const saved = await inspect(savedContainerName('standin-node-1', label));
    assert.equal(saved.Id, original.Id);
    assert.equal(saved.State.Running, false);
    assert.deepEqual(saved.Config, original.Config);
    assert.deepEqual(comparable(saved.HostConfig), comparable(original.HostConfig));
  });

  it('replaces nothing the second time and answers as the first time', async () => {
    const before = await inspect('standin-node-1');
    const again = await runActivity(images.replaceNodeImage, { cluster, node: 'node-1', image: v2, label });
    assert.deepEqual(again, firstResult);
    assert.equal((await inspect('standin-node-1')).Id, before.Id);
  });

  it('leaves a node already on the image alone, saving nothing', async () => {
    const result = await runActivity(images.replaceNodeImage, { cluster, node: 'node-3', image: v1, label });
    assert.deepEqual(result, { node: 'node-3', container: 'standin-node-3', previousImage: v1, image: v1, savedAs: null, changed: false });
    assert.equal(await exists(savedContainerName('standin-node-3', label)), false);
  });

  it('finishes a replacement that crashed between the rename and the create', async () => {
    const node2 = await inspect('standin-node-2');
    await docker.getContainer('standin-node-2').rename({ name: savedContainerName('standin-node-2', label) });
    // Meanwhile the saved container is the node's only copy: discarding it is refused.
    const refusal = await failureOf(runActivity(images.discardSavedNode, { cluster, node: 'node-2', label }));
    assert.equal(refusal.type, FailureType.ContainerReplaceFailed);
    assert.equal(await exists(savedContainerName('standin-node-2', label)), true);

    const result = await runActivity(images.replaceNodeImage, { cluster, node: 'node-2', image: v2, label });
    assert.equal(result.changed, true);
    assert.equal(result.previousImage, v1);
    const replaced = await inspect('standin-node-2');
    assert.equal(replaced.Config.Image, v2);
    assert.ok(replaced.Config.Env.includes('STANDIN_NODE_NAME=node-2'));
    assert.equal((await inspect(savedContainerName('standin-node-2', label))).Id, node2.Id);
  });

  it('starts the replaced node, which installs the new version on the empty database', async () => {
    const started = await runActivity(suite.activities.startNode, { cluster, node: 'node-1' });
    assert.equal(started.image, v2);
    const ready = await runActivity(suite.activities.waitNodeReady, { cluster, node: 'node-1', requirePlugins: true });
    assert.equal(ready.version, '1.7.0');
  });

  it('refuses to replace a running container and leaves it untouched', async () => {
    const running = await inspect('standin-node-1');
    assert.equal(running.State.Running, true);
    const failure = await failureOf(runActivity(images.replaceNodeImage, { cluster, node: 'node-1', image: v1, label: `${label}b` }));
    assert.equal(failure.type, FailureType.NodeNotStopped);
    assert.equal(failure.nonRetryable, true);
    const after = await inspect('standin-node-1');
    assert.equal(after.Id, running.Id);
    assert.equal(after.State.Running, true);
    assert.equal(await exists(savedContainerName('standin-node-1', `${label}b`)), false);
  });

  it('refuses an image that is not on the host, before touching the node', async () => {
    const failure = await failureOf(runActivity(images.replaceNodeImage, { cluster, node: 'node-3', image: `${stackEnv().REGISTRY}/nocobase-standin:0.0.0-absent`, label }));
    assert.equal(failure.type, FailureType.ImageUnavailable);
    assert.equal(failure.nonRetryable, true);
    assert.equal((await inspect('standin-node-3')).Config.Image, v1);
    assert.equal(await exists(savedContainerName('standin-node-3', label)), false);
  });

  it('restores the original container exactly, even from the running replacement, and twice', async () => {
    const restored = await runActivity(images.restoreNodeImage, { cluster, node: 'node-1', label });
    assert.deepEqual(restored, { node: 'node-1', container: 'standin-node-1', image: v1, restored: true });
    const back = await inspect('standin-node-1');
    assert.equal(back.Id, original.Id);
    assert.equal(back.Config.Image, original.Config.Image);
    assert.equal(JSON.stringify(back.Config.Env), JSON.stringify(original.Config.Env));
    assert.equal(JSON.stringify(back.HostConfig.Binds), JSON.stringify(original.HostConfig.Binds));
    assert.equal(JSON.stringify(back.Config.Labels), JSON.stringify(original.Config.Labels));
    assert.equal(await exists(savedContainerName('standin-node-1', label)), false);

    const again = await runActivity(images.restoreNodeImage, { cluster, node: 'node-1', label });
    assert.deepEqual(again, { node: 'node-1', container: 'standin-node-1', image: v1, restored: false });
    assert.equal((await inspect('standin-node-1')).Id, original.Id);
  });

  it('completes a restore that crashed after removing the replacement', async () => {
    const saved = await inspect(savedContainerName('standin-node-2', label));
    await docker.getContainer('standin-node-2').remove({ force: true });
    const restored = await runActivity(images.restoreNodeImage, { cluster, node: 'node-2', label });
    assert.equal(restored.restored, true);
    assert.equal((await inspect('standin-node-2')).Id, saved.Id);
  });

  it('discards only the saved container, and nothing when there is none', async () => {
    await runActivity(images.replaceNodeImage, { cluster, node: 'node-3', image: v2, label });
    const live = await inspect('standin-node-3');
    assert.deepEqual(await runActivity(images.discardSavedNode, { cluster, node: 'node-3', label }), { removed: true });
    assert.equal(await exists(savedContainerName('standin-node-3', label)), false);
    assert.equal((await inspect('standin-node-3')).Id, live.Id, 'the live container stays');
    assert.deepEqual(await runActivity(images.discardSavedNode, { cluster, node: 'node-3', label }), { removed: false });
    assert.equal((await runActivity(images.restoreNodeImage, { cluster, node: 'node-3', label })).restored, false);
  });

  it('refuses a label that cannot be part of a container name', async () => {
    const failure = await failureOf(runActivity(images.replaceNodeImage, { cluster, node: 'node-3', image: v2, label: 'no/slash' }));
    assert.equal(failure.type, FailureType.InvalidInput);
  });
});

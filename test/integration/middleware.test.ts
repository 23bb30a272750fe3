import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createActivities } from '../../src/activities';
import { FailureType } from '../../src/common/failure-types';
import { runActivity, stackConfig, stackDeps, stackEnv } from '../support/stack';

// A stand-in for Redis: any long-running container will do, the activity only restarts it.
const CONTAINER = 'it-middleware-redis';

describe('middleware restart against the real Docker engine', () => {
  const deps = stackDeps(
    stackConfig((demo) => {
      demo.middleware = [
        { name: 'redis', dockerHost: stackEnv().DOCKER_HOST, container: CONTAINER, restartDuringUpgrade: true },
        { name: 'other-redis', dockerHost: stackEnv().DOCKER_HOST, container: 'not-restarted', restartDuringUpgrade: false },
      ];
    }),
  );
  const docker = deps.docker(stackEnv().DOCKER_HOST);

  before(async () => {
    await docker.getContainer(CONTAINER).remove({ force: true }).catch(() => undefined);
    const container = await docker.createContainer({
      name: CONTAINER,
      Image: stackEnv().STANDIN_IMAGE_V1,
      Cmd: ['/usr/local/bin/node', '-e', 'setInterval(() => undefined, 1e9)'],
      HostConfig: { NetworkMode: 'host' },
    });
    await container.start();
  });
  after(async () => {
    await docker.getContainer(CONTAINER).remove({ force: true }).catch(() => undefined);
    await deps.close();
  });

  it('restarts only the middleware marked restartDuringUpgrade', async () => {
    const before = (await docker.getContainer(CONTAINER).inspect()).State.StartedAt;
    const restarted = await runActivity(createActivities(deps).restartMiddleware, { cluster: 'standin' });
    assert.deepEqual(restarted.map((entry) => entry.name), ['redis']);
    const info = await docker.getContainer(CONTAINER).inspect();
    assert.equal(info.State.Running, true);
    assert.notEqual(info.State.StartedAt, before, 'the container was started anew');
    assert.equal(restarted[0]?.startedAt, info.State.StartedAt);
  });

  it('fails as Misconfigured when the middleware container does not exist', async () => {
    const missing = stackDeps(stackConfig((demo) => (demo.middleware = [{ name: 'redis', dockerHost: stackEnv().DOCKER_HOST, container: 'no-such-redis', restartDuringUpgrade: true }])));
    const error = await runActivity(createActivities(missing).restartMiddleware, { cluster: 'standin' }).catch((caught: unknown) => caught);
    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, FailureType.Misconfigured);
    await missing.close();
  });
});

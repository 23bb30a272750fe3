import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createActivities } from '../../src/activities';
import { FailureType } from '../../src/common/failure-types';
import { standinActivities, runActivity, stackConfig, stackDeps, stackEnv } from '../support/stack';

const cluster = 'standin';

describe('image and database activities against the real registry and PostgreSQL', () => {
  const suite = standinActivities();

  it('pulls a missing image from the registry once, then finds it present', async () => {
    const image = stackEnv().STANDIN_IMAGE_V2;
    const docker = suite.deps.docker(stackEnv().DOCKER_HOST);
    await docker.getImage(image).remove({ force: true }).catch(() => undefined);

    const [pulled] = await runActivity(suite.activities.ensureImages, { cluster, images: [image] });
    assert.equal(pulled?.pulled, true);
    const inspected = await docker.getImage(image).inspect();
    assert.equal(inspected.Config.Labels?.['org.opencontainers.image.version'], '1.7.0');

    const [present] = await runActivity(suite.activities.ensureImages, { cluster, images: [image] });
    assert.equal(present?.pulled, false);
  });

  it('fails as ImageUnavailable, not retryable, for a tag the registry does not have', async () => {
    const error = await runActivity(suite.activities.ensureImages, { cluster, images: [`${stackEnv().REGISTRY}/nocobase-standin:0.0.0-missing`] }).catch(
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, FailureType.ImageUnavailable);
    assert.equal(error.nonRetryable, true);
  });

  it('reads the server and an empty application from the cluster database', async () => {
    const check = await runActivity(suite.activities.checkDatabase, { cluster });
    assert.match(check.serverVersion, /^15/);
    assert.equal(check.version, null, 'nothing installed yet');
    assert.equal(check.plugins, null);
  });

  it('fails as DatabaseUnreachable, not retryable, on a wrong password', async () => {
    const config = stackConfig((demo) => {
      demo.database.passwordFile = undefined;
      demo.database.passwordEnv = 'IT_WRONG_DB_PASSWORD';
    });
    process.env.IT_WRONG_DB_PASSWORD = 'not-the-password';
    const wrongDeps = stackDeps(config);
    try {
      const error = await runActivity(createActivities(wrongDeps).checkDatabase, { cluster }).catch((caught: unknown) => caught);
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, FailureType.DatabaseUnreachable);
      assert.equal(error.nonRetryable, true);
      assert.doesNotMatch(error.message, /not-the-password/, 'the password never appears in a failure');
    } finally {
      await wrongDeps.close();
    }
  });
});

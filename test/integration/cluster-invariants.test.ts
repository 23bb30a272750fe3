import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { dockerFromHost } from '../../scripts/stack/docker-build';
import { ensureImage, nodeContainerSpec, type DemoClusterOptions } from '../../scripts/stack/demo-cluster';
import { createInvariantActivities } from '../../src/activities/cluster/invariants';
import { FailureType } from '../../src/common/failure-types';
import type { WorkerDeps } from '../../src/worker/deps';
import { standinOptions, runActivity, stackConfig, stackDeps, stackEnv } from '../support/stack';

// Containers of its own (created, never started), so the stand-in cluster is not touched.
const CLUSTER = 'inv';
const NAMES = ['inv-node-1', 'inv-node-2', 'inv-node-3'];
const OTHER_APP_KEY = 'inv-test-other-app-key-value';

interface NodeVariant {
  image?: string;
  env?: Record<string, string>;
  without?: string[];
}

async function removeContainers(docker: Docker): Promise<void> {
  for (const name of NAMES) {
    await docker.getContainer(name).remove({ force: true }).catch((error: unknown) => {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    });
  }
}

describe('cluster invariants checked on real containers', () => {
  let options: DemoClusterOptions;
  let docker: Docker;
  let deps: WorkerDeps;
  let activities: ReturnType<typeof createInvariantActivities>;

  /** Recreates inv-node-1..3 from the demo node spec, each changed as given. */
  async function createNodes(variants: NodeVariant[] = []): Promise<void> {
    await removeContainers(docker);
    for (const [i, name] of NAMES.entries()) {
      const variant = variants[i] ?? {};
      const spec = nodeContainerSpec(options, i + 1, { name, port: 13620 + i, ...(variant.image ? { image: variant.image } : {}), env: variant.env ?? {} });
      spec.Env = spec.Env?.filter((entry) => !(variant.without ?? []).some((key) => entry.startsWith(`${key}=`)));
      await docker.createContainer(spec);
    }
  }

  async function refusal(): Promise<ApplicationFailure> {
    const error = await runActivity(activities.checkClusterInvariants, { cluster: CLUSTER }).then(
      () => assert.fail('expected the check to refuse the cluster'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, FailureType.ClusterInvariantViolated);
    assert.equal(error.nonRetryable, true);
    return error;
  }

  before(async () => {
    options = { ...standinOptions(), cluster: CLUSTER };
    docker = dockerFromHost(options.dockerHost);
    await ensureImage(docker, stackEnv().STANDIN_IMAGE_V1, () => undefined);
    await ensureImage(docker, stackEnv().STANDIN_IMAGE_V2, () => undefined);
    const config = stackConfig((demo, all) => {
      all.clusters[CLUSTER] = {
        ...structuredClone(demo),
        nodes: NAMES.map((container, i) => ({
          name: `node-${i + 1}`,
          dockerHost: options.dockerHost,
          container,
          healthUrl: `http://127.0.0.1:${13620 + i}/api/__health_check`,
        })),
      };
    });
    deps = stackDeps(config);
    activities = createInvariantActivities(deps);
  });

  after(async () => {
    await deps?.close();
    if (docker) await removeContainers(docker);
  });

  it('passes nodes that share their settings and image, and lists the variables it compared', async () => {
    await createNodes();
    const result = await runActivity(activities.checkClusterInvariants, { cluster: CLUSTER });
    assert.equal(result.nodes, 3);
    for (const name of ['APP_KEY', 'APP_AES_SECRET_KEY', 'DB_HOST', 'DB_PASSWORD', 'DB_PORT', 'CACHE_REDIS_URL', 'QUEUE_ADAPTER_REDIS_URL']) {
      assert.ok(result.checked.includes(name), `${name} checked`);
    }
    // The stand-in's per-node settings differ on purpose and are not cluster settings.
    assert.ok(!result.checked.includes('STANDIN_NODE_NAME') && !result.checked.includes('APP_PORT'));
  });

  it('refuses nodes whose APP_KEY differs or that lack DB_PORT, naming nodes and variables but no value', async () => {
    await createNodes([{}, { env: { APP_KEY: OTHER_APP_KEY } }, { without: ['DB_PORT'] }]);
    const failure = await refusal();
    assert.match(failure.message, /node-2 differs from node-1 in APP_KEY(?!,)/);
    assert.match(failure.message, /node-3 differs from node-1 in DB_PORT(?!,)/);
    const everything = `${failure.message}\n${JSON.stringify(failure.details)}`;
    for (const value of [OTHER_APP_KEY, 'demo-app-key', options.dbPassword, String(options.dbPort)]) {
      assert.ok(!everything.includes(value), 'the failure carries no value of any variable');
    }
  });

  it('refuses nodes created from different images', async () => {
    await createNodes([{}, {}, { image: stackEnv().STANDIN_IMAGE_V2 }]);
    const failure = await refusal();
    assert.match(failure.message, /node-3 runs image \S+ while node-1 runs \S+/);
    assert.ok(failure.message.includes(stackEnv().STANDIN_IMAGE_V2));
  });

  it('refuses a configured container that does not exist as Misconfigured', async () => {
    await removeContainers(docker);
    const error = await runActivity(activities.checkClusterInvariants, { cluster: CLUSTER }).catch((caught: unknown) => caught);
    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, FailureType.Misconfigured);
  });
});

// test-lane: standin
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { taskQueue } from '../../src/client/task-queue';
import { approveSignal, rejectSignal, statusQuery } from '../../src/workflows/messages';
import { versionUpgrade } from '../../src/workflows';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import type { WorkflowHandle } from '@temporalio/client';
import { fingerprint } from '../support/business-data';
import { STANDIN_WORKFLOW_ID as workflowId, e2eSuite, until } from '../support/e2e-suite';
import { generationServed, includeState, nginxEnv, nginxLoadBalancer, resetNginx } from '../support/nginx';
import { startProber } from '../support/prober';
import { stackDeps, stackEnv } from '../support/stack';

const containers = ['standin-node-1', 'standin-node-2', 'standin-node-3'];
type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;

async function images(): Promise<string[]> {
  const docker = stackDeps().docker(stackEnv().DOCKER_HOST);
  return Promise.all(containers.map(async (name) => (await docker.getContainer(name).inspect()).Config.Image));
}

/**
 * The stack's cluster file with the stand-in cluster behind the stack's Nginx instead of HAProxy,
 * as an operator who followed NocoBase's docs would write it; the worker process and the test's
 * own deps read it. Done before the suite's hooks, which start the worker with this environment.
 */
const stackConfigFile = stackEnv().NOCOBASE_MAINTENANCE_CONFIG;
const scratch = mkdtempSync(join(tmpdir(), 'nginx-e2e-'));
const configFile = join(scratch, 'clusters.yaml');
const document = parse(readFileSync(stackConfigFile, 'utf8')) as { clusters: Record<string, { loadBalancer: unknown }> };
document.clusters.standin!.loadBalancer = nginxLoadBalancer();
writeFileSync(configFile, stringify(document));
process.env.NOCOBASE_MAINTENANCE_CONFIG = configFile;

describe('versionUpgrade on the stand-in cluster behind Nginx (loadBalancer.kind: nginx), through the real worker process', () => {
  before(() => resetNginx());
  const suite = e2eSuite({ startCluster: true });
  after(async () => {
    process.env.NOCOBASE_MAINTENANCE_CONFIG = stackConfigFile;
    await resetNginx();
    rmSync(scratch, { recursive: true, force: true });
  });

  const site = () => nginxEnv().url;
  const startUpgrade = async (image: string) => (await suite.client.workflow.start(versionUpgrade, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'standin', image }] })) as Upgrade;
  const awaitingDecision = (handle: Upgrade) =>
    until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined));

  it('upgrades v1 to v2 once approved: users behind Nginx see the 503 page, then v2, never a connection error', async () => {
    const prober = startProber(site());
    const handle = await startUpgrade(stackEnv().STANDIN_IMAGE_V2);
    await awaitingDecision(handle);
    const during = includeState();
    assert.equal(during.maintenance, true, 'the maintenance page is on in the include while the decision waits');
    await handle.signal(approveSignal, { by: 'alice', comment: 'fine behind nginx' });
    const result = await handle.result();
    const probes = await prober.stop();

    assert.equal(result.outcome, 'upgraded');
    assert.deepEqual(await images(), containers.map(() => stackEnv().STANDIN_IMAGE_V2));
    const statuses = probes.map((probe) => probe.status);
    assert.deepEqual(statuses.filter((status) => status !== 200 && status !== 503), [], 'users never see a connection error');
    assert.ok(statuses.includes(503), 'users saw the maintenance page');
    assert.equal(statuses.at(-1), 200);
    const left = includeState();
    assert.equal(left.maintenance, false);
    assert.deepEqual(left.servers.map(({ state }) => state), ['ready', 'ready', 'ready']);
    assert.equal(await generationServed(), left.generation, 'Nginx serves the include the procedure left');
    const response = await fetch(site(), { headers: { connection: 'close' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-standin-version'), '1.7.0');
  });

  it('rolls back image and data when rejected: v1 serving behind Nginx, business data as before', async () => {
    const before = await fingerprint(stackEnv().STANDIN_DATABASE_URL);
    const handle = await startUpgrade(stackEnv().STANDIN_IMAGE_V2);
    await awaitingDecision(handle);
    await handle.signal(rejectSignal, { by: 'ops@demo.test', reason: 'reports look wrong' });
    const result = await handle.result();

    assert.equal(result.outcome, 'rolled-back');
    assert.deepEqual(await images(), containers.map(() => stackEnv().STANDIN_IMAGE_V1));
    assert.deepEqual(await fingerprint(stackEnv().STANDIN_DATABASE_URL), before);
    assert.equal(includeState().maintenance, false);
    const response = await fetch(site(), { headers: { connection: 'close' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-standin-version'), '1.6.0');
  });
});

// test-lane: kubernetes
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/common/failure-types';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { taskQueue } from '../../src/client/task-queue';
import { approveSignal, rejectSignal, statusQuery } from '../../src/workflows/messages';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../src/workflows/version-upgrade';
import type { InAppMaintenanceInput, InAppMaintenanceResult } from '../../src/workflows/in-app-maintenance';
import { firstStart, inAppMaintenance, versionUpgrade } from '../../src/workflows';
import { connectClient } from '../../src/client/connect';
import { payloadCodecsFromEnv } from '../../src/client/data-converter';
import { decodeHistory } from '../../src/codec/decode-history';
import { historyActivities } from '../support/history-activities';
import { until } from '../support/e2e-suite';
import { appPods, deploymentState, freshGet, kubeDatabaseUrl, kubeEnv, kubectl, kubeStorageListing, resetKubernetesCluster, serviceSelector } from '../support/kubernetes';
import { applicationPlugins, createBusinessData, listRecords, recordedVersion, tableChecksums, type NocobaseLogin } from '../support/nocobase-api';
import { readmeCommandsRunBy } from '../support/readme-commands';
import { stackEnv } from '../support/stack';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

const run = promisify(execFile);

// Real NocoBase on the stack's Kubernetes (the `k8s` cluster: two app replicas and a WORKER_MODE
// replica behind a Service, storage on a PVC), upgraded 2.2.14 -> 2.2.15 by the real worker with
// only the ServiceAccount of deploy/kubernetes/rbac.yaml. A prober goes through the Service as users
// do, on a new connection each time, and must only ever see the maintenance page or one version.
const workflowId = 'maintenance-k8s';
const VOLATILE_STORAGE = ['logs', '.pids', 'tmp', 'cache'];
type Upgrade = WorkflowHandle<(input: VersionUpgradeInput) => Promise<VersionUpgradeResult>>;
const login = (): NocobaseLogin => ({ email: stackEnv().DEMO_ROOT_EMAIL, password: stackEnv().DEMO_ROOT_PASSWORD });

interface Sample { at: number; status: number | 'error'; version?: string; page?: boolean; error?: string }

/** Polls the Service every 250 ms until stopped. */
function probeService() {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      try {
        const { status, body } = await freshGet(`${kubeEnv().serviceUrl}/api/app:getInfo`);
        if (status === 200) samples.push({ at, status, version: (JSON.parse(body) as { data: { version: string } }).data.version });
        else samples.push({ at, status, page: /maintenance/i.test(body) });
      } catch (error) {
        samples.push({ at, status: 'error', error: (error as Error).message });
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    async stop(): Promise<Sample[]> {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** What users saw, in order, with repeats folded: e.g. ['2.2.14', 'page', '2.2.15']. */
function phases(samples: Sample[]): string[] {
  const seen = samples.map((sample) => (sample.status === 200 ? sample.version! : sample.status === 503 && sample.page ? 'page' : `${sample.status} ${sample.error ?? ''}`.trim()));
  return seen.filter((value, index) => index === 0 || seen[index - 1] !== value);
}

describe('versionUpgrade on real NocoBase on Kubernetes, through the real worker and the Service', () => {
  let worker: WorkerProcess;
  let client: Client;
  let records: Record<string, unknown>[];
  const awaitingDecision = (handle: Upgrade) =>
    until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined), 600_000);

  before(async () => {
    await resetKubernetesCluster({ start: false });
    worker = await startWorkerProcess(process.env);
    client = await connectClient();
  });
  after(async () => {
    await worker?.stop();
    await client?.connection.close();
  });

  const start = async (image: string): Promise<Upgrade> =>
    (await client.workflow.start(versionUpgrade, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'k8s', image }] })) as Upgrade;

  async function assertServing(image: string, version: string): Promise<void> {
    assert.equal((await deploymentState('nocobase')).image, image);
    assert.equal((await deploymentState('nocobase-worker')).image, image);
    assert.equal((await deploymentState('nocobase')).replicas, 2);
    assert.equal((await deploymentState('nocobase-worker')).replicas, 1);
    const pods = await appPods();
    assert.deepEqual(pods.map((pod) => [pod.image, pod.ready, pod.terminating]), [[image, true, false], [image, true, false]]);
    assert.deepEqual(await serviceSelector(), { 'app.kubernetes.io/name': 'nocobase', 'app.kubernetes.io/component': 'app' });
    const info = await freshGet(`${kubeEnv().serviceUrl}/api/app:getInfo`);
    assert.equal(info.status, 200);
    assert.equal((JSON.parse(info.body) as { data: { version: string } }).data.version, version);
  }

  it('first starts NocoBase as its cluster page says: one replica until its plugins are installed and enabled, then the others', async () => {
    assert.equal((await deploymentState('nocobase')).replicas, 0);
    const result = await client.workflow.execute(firstStart, { taskQueue: taskQueue(), workflowId, args: [{ cluster: 'k8s' }] });
    assert.equal(result.cluster, 'k8s');
    // From the history: app-1 ready with its plugins before any other replica was started.
    const scheduled = historyActivities((await decodeHistory(await client.workflow.getHandle(workflowId).fetchHistory(), payloadCodecsFromEnv())).events ?? []);
    const steps = scheduled.filter((entry) => ['startNode', 'waitNodeReady'].includes(entry.activity)).map((entry) => `${entry.activity} ${entry.node}`);
    const othersStart = steps.findIndex((step) => step.startsWith('startNode') && !step.endsWith('app-1'));
    assert.ok(othersStart > 0 && steps.slice(0, othersStart).includes('waitNodeReady app-1'), `app-1 ready before the others start: ${JSON.stringify(steps)}`);
    await assertServing(stackEnv().DEMO_IMAGE_V1, '2.2.14');
    // Through one pod, not the Service: a node learns of a new collection only when it starts.
    const pod = (await kubectl(['get', 'pods', '-l', 'app.kubernetes.io/component=app', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
    await createBusinessData(`http://${pod}:13000`, login(), 10);
    records = await listRecords(`http://${pod}:13000`, login());
    assert.equal(records.length, 10);
  });

  it('rolls back image, data and storage when rejected: 2.2.14 serving through the Service, every table and storage file as before', async () => {
    const tablesBefore = await tableChecksums(kubeDatabaseUrl());
    const storageBefore = kubeStorageListing(VOLATILE_STORAGE);
    const prober = probeService();
    const handle = await start(stackEnv().DEMO_IMAGE_V2);
    await awaitingDecision(handle);
    assert.equal(await recordedVersion(kubeDatabaseUrl()), '2.2.15', 'the first replica ran NocoBase\'s upgrade');
    assert.deepEqual((await appPods()).map((pod) => pod.image), [stackEnv().DEMO_IMAGE_V2], 'one replica, on the new image, while the decision waits');
    await handle.signal(rejectSignal, { by: 'ops@demo.test', reason: 'reports look wrong' });
    const result = await handle.result();
    const samples = await prober.stop();

    assert.equal(result.outcome, 'rolled-back');
    assert.deepEqual(await tableChecksums(kubeDatabaseUrl()), tablesBefore, 'every table holds the rows it held before');
    assert.equal(kubeStorageListing(VOLATILE_STORAGE), storageBefore, 'the storage files are back');
    await assertServing(stackEnv().DEMO_IMAGE_V1, '2.2.14');
    assert.deepEqual(await listRecords(kubeEnv().serviceUrl, login()), records);
    assert.deepEqual(phases(samples), ['2.2.14', 'page', '2.2.14'], 'users saw the old version, the page, the old version: never 2.2.15, never an error');
  });

  it('rolls back on its own when the target fails its migration (APP_ERROR in the new pod): 2.2.14 serving, every table as before', async () => {
    const tablesBefore = await tableChecksums(kubeDatabaseUrl());
    const prober = probeService();
    const handle = await start(stackEnv().DEMO_IMAGE_BROKEN);
    const error = await handle.result().catch((caught: unknown) => caught);
    const samples = await prober.stop();
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, FailureType.NodeFailed);
    assert.match(error.cause.message, /APP_ERROR/);
    assert.deepEqual(await tableChecksums(kubeDatabaseUrl()), tablesBefore, 'every table holds the rows it held before');
    await assertServing(stackEnv().DEMO_IMAGE_V1, '2.2.14');
    assert.deepEqual(phases(samples), ['2.2.14', 'page', '2.2.14'], 'users saw the old version, the page, the old version');
  });

  it('enables a plugin NocoBase ships disabled by in-app maintenance: one replica alone runs `pm enable` in its pod, then every replica serves with it', async () => {
    assert.equal((await applicationPlugins(kubeDatabaseUrl())).get('map'), undefined, 'the install leaves it out');
    const prober = probeService();
    const handle = (await client.workflow.start(inAppMaintenance, {
      taskQueue: taskQueue(),
      workflowId,
      args: [{ cluster: 'k8s', operations: [{ type: 'pm', args: ['enable', 'map'] }] }],
    })) as WorkflowHandle<(input: InAppMaintenanceInput) => Promise<InAppMaintenanceResult>>;
    await until('the decision request', async () => ((await handle.query(statusQuery)).approval?.state === 'awaiting' ? true : undefined), 600_000);
    assert.equal((await appPods()).length, 1, 'one replica while the operations run and wait for the decision');
    await handle.signal(approveSignal, { by: 'alice' });
    const result = await handle.result();
    const samples = await prober.stop();

    assert.equal(result.outcome, 'completed');
    assert.deepEqual(result.operations.map((operation) => [operation.operation, operation.ok]), [['pm enable map', true]]);
    assert.deepEqual((await applicationPlugins(kubeDatabaseUrl())).get('map'), { enabled: true, installed: true });
    await assertServing(stackEnv().DEMO_IMAGE_V1, '2.2.14');
    // The one replica left restarts its app for `pm enable`: it is unready meanwhile and a bare
    // Service then has no endpoint, so kube-proxy refuses connections (an Ingress answers 503); any
    // other error, or a version other than 2.2.14, is wrong, and it serves again at the end.
    assert.deepEqual([...new Set(samples.filter((sample) => sample.status === 'error').map((sample) => sample.error))].filter((error) => !/ECONNREFUSED/.test(error ?? '')), []);
    assert.deepEqual([...new Set(samples.filter((sample) => sample.status === 200).map((sample) => sample.version))], ['2.2.14']);
    assert.equal(samples.at(-1)?.status, 200);
  });

  it('upgrades 2.2.14 to 2.2.15 once approved: every replica on the new image, NocoBase records the new version, the records intact', async () => {
    const prober = probeService();
    const handle = await start(stackEnv().DEMO_IMAGE_V2);
    await awaitingDecision(handle);
    await handle.signal(approveSignal, { by: 'alice', comment: 'smoke test passed' });
    const result = await handle.result();
    const samples = await prober.stop();

    assert.equal(result.outcome, 'upgraded');
    assert.equal(await recordedVersion(kubeDatabaseUrl()), '2.2.15');
    await assertServing(stackEnv().DEMO_IMAGE_V2, '2.2.15');
    assert.deepEqual(await listRecords(kubeEnv().serviceUrl, login()), records);
    assert.deepEqual(phases(samples), ['2.2.14', 'page', '2.2.15'], 'users saw the old version, the page, the new version: never a mix, never an error');
    const annotations = Object.keys((await deploymentState('nocobase')).annotations).filter((key) => key.startsWith('nocobase-maintenance.io/'));
    assert.deepEqual(annotations, [], 'the accepted upgrade forgot the previous image');
  });

  it('runs the README\'s Kubernetes commands as written', async () => {
    const lines = readmeCommandsRunBy('test/e2e/kubernetes-version-upgrade.test.ts');
    assert.ok(lines.length >= 3, `the README's Kubernetes block has ${lines.length} lines`);
    const env = { ...process.env, KUBECONFIG: kubeEnv().admin, PATH: `${path.dirname(kubeEnv().kubectl)}:${path.dirname(process.env.TEMPORAL_BIN ?? 'temporal')}:${process.env.PATH}` };
    for (const line of lines) {
      const { stdout } = await run('bash', ['-c', line], { env, cwd: path.resolve(__dirname, '../..') });
      process.stdout.write(`# ${line}\n${stdout.split('\n').map((text) => `#   ${text}`).join('\n')}\n`);
    }
  });
});


// test-lane: kubernetes
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createActivities, type Activities } from '../../src/activities';
import type { WorkerDeps } from '../../src/worker/deps';
import { appPods, deploymentState, freshGet, kubeEnv, kubectl, kubeStorageListing, resetKubernetesCluster, serviceSelector } from '../support/kubernetes';
import { runActivity, stackDeps, stackEnv } from '../support/stack';

// The adapters under the node, traffic and storage activities, on the stack's real Kubernetes and
// the real NocoBase it runs (scripts/stack/kubernetes.sh), as the worker's ServiceAccount with
// only deploy/kubernetes/rbac.yaml's Role.
const cluster = 'k8s';

describe('NocoBase on the stack\'s Kubernetes: nodes, Service switch and PVC storage through the activities', () => {
  let deps: WorkerDeps;
  let activities: Activities;
  before(async () => {
    await resetKubernetesCluster();
    deps = stackDeps();
    activities = createActivities(deps);
  });
  after(async () => {
    await deps?.close();
  });

  it('serves NocoBase through its Service, laid out as NocoBase documents it', async () => {
    const response = await fetch(`${kubeEnv().serviceUrl}/api/app:getInfo`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { data: { version: string } }).data.version, '2.2.14');
    const plan = await runActivity(activities.describeCluster, { cluster });
    assert.deepEqual(plan.nodes.map((node) => [node.name, node.running, node.role, node.image]), [
      ['app-1', true, 'app', stackEnv().DEMO_IMAGE_V1],
      ['app-2', true, 'app', stackEnv().DEMO_IMAGE_V1],
      ['worker-1', true, 'worker', stackEnv().DEMO_IMAGE_V1],
    ]);
    const probes = await kubectl(['get', 'deployment', 'nocobase', '-o', 'jsonpath={.spec.template.spec.containers[0].readinessProbe.httpGet.path} {.spec.template.spec.containers[0].livenessProbe.httpGet.path}']);
    assert.equal(probes, '/api/__health_check /api/__health_check');
    assert.match(await kubectl(['get', 'deployment', 'nocobase-worker', '-o', 'jsonpath={.spec.template.spec.containers[0].env}']), /WORKER_MODE/);
  });

  it('gives the worker\'s ServiceAccount what the procedures need and nothing more', async () => {
    const can = async (...args: string[]) => (await kubectl(['auth', 'can-i', ...args], 'worker').catch((error: { stdout?: string }) => error.stdout ?? '')).trim();
    assert.equal(await can('patch', 'deployments'), 'yes');
    assert.equal(await can('create', 'pods', '--subresource=exec'), 'yes');
    assert.equal(await can('patch', 'services'), 'yes');
    assert.equal(await can('create', 'jobs'), 'yes');
    assert.equal(await can('delete', 'deployments'), 'no');
    assert.equal(await can('get', 'secrets'), 'no');
    assert.equal(await can('create', 'pods'), 'no');
    assert.equal(await can('delete', 'services'), 'no');
    assert.equal(await can('get', 'pods', '-n', 'kube-system'), 'no');
  });

  it('refuses at pre-flight a Deployment scaled beyond the replicas the configuration lists', async () => {
    assert.deepEqual((await runActivity(activities.checkClusterInvariants, { cluster })).nodes, 3);
    await kubectl(['scale', 'deployment/nocobase-worker', '--replicas=2']);
    try {
      await assert.rejects(runActivity(activities.checkClusterInvariants, { cluster }), /Deployment nocobase-worker has 2 replicas but the configuration lists 1/);
    } finally {
      await kubectl(['scale', 'deployment/nocobase-worker', '--replicas=1']);
      await kubectl(['wait', '--for=delete', 'pod', '-l', 'app.kubernetes.io/component=worker', '--field-selector', 'status.phase!=Running', '--timeout=60s']).catch(() => '');
    }
    assert.deepEqual((await runActivity(activities.checkClusterInvariants, { cluster })).nodes, 3);
  });

  it('switches the Service to the maintenance page and back, keeping its own selector in an annotation', async () => {
    const own = await serviceSelector();
    await runActivity(activities.setMaintenanceMode, { cluster, on: true });
    assert.deepEqual(await serviceSelector(), { 'app.kubernetes.io/name': 'nocobase-maintenance-page' });
    // Again: a retried switch must not record the page's selector as the Service's own.
    await runActivity(activities.setMaintenanceMode, { cluster, on: true });
    // A new connection each time, as a new visitor makes: kube-proxy moves new connections only.
    let page: { status: number; body: string } | undefined;
    for (let i = 0; i < 50 && page?.status !== 503; i += 1) {
      page = await freshGet(`${kubeEnv().serviceUrl}/`);
      if (page.status !== 503) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(page?.status, 503, 'kube-proxy sends the Service to the page');
    assert.match(page.body, /maintenance/i);
    await runActivity(activities.setMaintenanceMode, { cluster, on: false });
    assert.deepEqual(await serviceSelector(), own);
  });

  it('stops a replica by scaling down until its pod is gone, and starts it by scaling up', async () => {
    const stopped = await runActivity(activities.stopNode, { cluster, node: 'app-2' });
    assert.equal(stopped.running, false);
    assert.equal((await deploymentState('nocobase')).replicas, 1);
    assert.equal((await appPods()).length, 1, 'no pod is left terminating');
    const started = await runActivity(activities.startNode, { cluster, node: 'app-2' });
    assert.equal(started.running, true);
    const ready = await runActivity(activities.waitNodeReady, { cluster, node: 'app-2', requirePlugins: true, expectVersion: '2.2.14' });
    assert.equal(ready.appVersion, '2.2.14');
    assert.equal((await deploymentState('nocobase')).replicas, 2);
  });

  it('replaces the image only while no pod runs, keeps the previous one in an annotation, and restores it', async () => {
    const label = `it-${Date.now()}`;
    await assert.rejects(runActivity(activities.replaceNodeImage, { cluster, node: 'app-1', label, image: stackEnv().DEMO_IMAGE_V2 }), /NodeNotStopped|stop every node/);
    await runActivity(activities.stopNode, { cluster, node: 'app-2' });
    await runActivity(activities.stopNode, { cluster, node: 'app-1' });
    const replaced = await runActivity(activities.replaceNodeImage, { cluster, node: 'app-1', label, image: stackEnv().DEMO_IMAGE_V2 });
    assert.equal(replaced.previousImage, stackEnv().DEMO_IMAGE_V1);
    assert.equal((await deploymentState('nocobase')).image, stackEnv().DEMO_IMAGE_V2);
    // The other replica of the same Deployment: already on the image, the same saved definition.
    const again = await runActivity(activities.replaceNodeImage, { cluster, node: 'app-2', label, image: stackEnv().DEMO_IMAGE_V2 });
    assert.equal(again.changed, true);
    assert.equal(again.previousImage, stackEnv().DEMO_IMAGE_V1);
    const restored = await runActivity(activities.restoreNodeImage, { cluster, node: 'app-1', label });
    assert.equal(restored.image, stackEnv().DEMO_IMAGE_V1);
    const state = await deploymentState('nocobase');
    assert.equal(state.image, stackEnv().DEMO_IMAGE_V1);
    assert.equal(Object.keys(state.annotations).filter((key) => key.startsWith('nocobase-maintenance.io/pre-')).length, 0);
    await runActivity(activities.startNode, { cluster, node: 'app-1' });
    await runActivity(activities.startNode, { cluster, node: 'app-2' });
    await runActivity(activities.waitNodeReady, { cluster, node: 'app-2', requirePlugins: false });
  });

  it('archives the PVC into the backup store through a helper Job and restores it byte for byte', async () => {
    const label = `it-${Date.now()}`;
    const dir = kubeEnv().storageDir;
    fs.mkdirSync(path.join(dir, 'uploads'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'uploads', 'kept.txt'), 'from before the backup\n');
    const before = kubeStorageListing(['logs', '.pids', 'tmp', 'cache']);
    await runActivity(activities.stopNode, { cluster, node: 'worker-1' });
    await runActivity(activities.stopNode, { cluster, node: 'app-2' });
    await runActivity(activities.stopNode, { cluster, node: 'app-1' });
    const backup = await runActivity(activities.backupStorage, { cluster, label });
    assert.ok(backup && backup.files > 0, JSON.stringify(backup));
    assert.equal(backup.source, `pvc:${kubeEnv().namespace}/nocobase-storage`);
    fs.writeFileSync(path.join(dir, 'uploads', 'kept.txt'), 'changed after the backup\n');
    fs.writeFileSync(path.join(dir, 'uploads', 'new.txt'), 'made after the backup\n');
    await runActivity(activities.restoreStorage, { cluster, backup, label });
    assert.equal(fs.readFileSync(path.join(dir, 'uploads', 'kept.txt'), 'utf8'), 'from before the backup\n');
    assert.equal(fs.existsSync(path.join(dir, 'uploads', 'new.txt')), false);
    assert.equal(kubeStorageListing(['logs', '.pids', 'tmp', 'cache']), before);
    assert.equal((await kubectl(['get', 'jobs', '-l', 'app.kubernetes.io/managed-by=nocobase-maintenance', '-o', 'name'])).trim(), '', 'no helper Job is left');
    for (const node of ['app-1', 'app-2', 'worker-1']) await runActivity(activities.startNode, { cluster, node });
    await runActivity(activities.waitNodeReady, { cluster, node: 'app-2', requirePlugins: false });
  });
});

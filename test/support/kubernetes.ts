import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { stackEnv } from './stack';

const run = promisify(execFile);

/** The stack's Kubernetes as the tests see it (scripts/stack/kubernetes.sh). */
export function kubeEnv() {
  const env = process.env;
  const missing = ['STACK_KUBECTL', 'STACK_KUBECONFIG', 'STACK_KUBE_WORKER_KUBECONFIG', 'STACK_KUBE_NAMESPACE', 'STACK_KUBE_SERVICE_URL', 'STACK_KUBE_DB_NAME', 'STACK_KUBE_STORAGE_DIR']
    .filter((name) => !env[name]);
  if (env.STACK_KUBERNETES !== 'on' || missing.length > 0) {
    throw new Error(`the stack's Kubernetes is not in the environment (STACK_KUBERNETES=${env.STACK_KUBERNETES ?? 'unset'}; missing ${missing.join(', ') || 'nothing'}): run npm run stack:up without STACK_SKIP_KUBERNETES`);
  }
  return {
    kubectl: env.STACK_KUBECTL!,
    admin: env.STACK_KUBECONFIG!,
    worker: env.STACK_KUBE_WORKER_KUBECONFIG!,
    namespace: env.STACK_KUBE_NAMESPACE!,
    serviceUrl: env.STACK_KUBE_SERVICE_URL!,
    database: env.STACK_KUBE_DB_NAME!,
    storageDir: env.STACK_KUBE_STORAGE_DIR!,
  };
}

/** kubectl in the cluster's namespace, as the stack's admin (or, with `as: 'worker'`, as the worker's ServiceAccount). */
export async function kubectl(args: string[], as: 'admin' | 'worker' = 'admin'): Promise<string> {
  const k = kubeEnv();
  const { stdout } = await run(k.kubectl, ['--kubeconfig', as === 'admin' ? k.admin : k.worker, '-n', k.namespace, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

export async function deploymentState(name: string): Promise<{ replicas: number; image: string; annotations: Record<string, string> }> {
  const deployment = JSON.parse(await kubectl(['get', 'deployment', name, '-o', 'json'])) as {
    metadata: { annotations?: Record<string, string> };
    spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
  };
  return { replicas: deployment.spec.replicas ?? 1, image: deployment.spec.template.spec.containers[0]!.image, annotations: deployment.metadata.annotations ?? {} };
}

/** The pods of the app (component app or worker), terminating ones included. */
export async function appPods(component: 'app' | 'worker' = 'app'): Promise<{ name: string; image: string; ready: boolean; terminating: boolean }[]> {
  const list = JSON.parse(await kubectl(['get', 'pods', '-l', `app.kubernetes.io/name=nocobase,app.kubernetes.io/component=${component}`, '-o', 'json'])) as {
    items: { metadata: { name: string; deletionTimestamp?: string }; spec: { containers: { image: string }[] }; status: { conditions?: { type: string; status: string }[] } }[];
  };
  return list.items.map((pod) => ({
    name: pod.metadata.name,
    image: pod.spec.containers[0]!.image,
    ready: pod.status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true,
    terminating: pod.metadata.deletionTimestamp !== undefined,
  }));
}

export async function serviceSelector(): Promise<Record<string, string>> {
  return (JSON.parse(await kubectl(['get', 'service', 'nocobase', '-o', 'json'])) as { spec: { selector: Record<string, string> } }).spec.selector;
}

/** The database URL of the k8s cluster (the demo's login, the k8s database). */
export function kubeDatabaseUrl(): string {
  const url = new URL(stackEnv().DATABASE_URL);
  url.pathname = `/${kubeEnv().database}`;
  return url.toString();
}

/** Every file of the PVC (a host path on this one-node cluster), relative path and size, minus `volatile` top-level entries. */
export function kubeStorageListing(volatile: readonly string[] = []): string {
  const root = kubeEnv().storageDir;
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(root, full);
      if (volatile.includes(rel.split(path.sep)[0]!)) continue;
      if (entry.isDirectory()) walk(full);
      else lines.push(`${rel} ${fs.lstatSync(full).size}`);
    }
  };
  walk(root);
  return lines.join('\n');
}

async function rollout(name: string): Promise<void> {
  await kubectl(['rollout', 'status', `deployment/${name}`, '--timeout=600s']);
}

/**
 * The k8s cluster as the stack first deploys it: NocoBase V1 on a fresh database and an empty
 * storage, first started on one replica, then two app replicas and the worker; the Service on the
 * app; no annotation of a procedure left.
 */
export async function resetKubernetesCluster(): Promise<void> {
  const k = kubeEnv();
  await kubectl(['scale', 'deployment/nocobase', 'deployment/nocobase-worker', '--replicas=0']);
  await kubectl(['wait', '--for=delete', 'pod', '-l', 'app.kubernetes.io/name=nocobase', '--timeout=120s']).catch(() => '');
  for (const name of ['nocobase', 'nocobase-worker']) {
    const { annotations } = await deploymentState(name);
    const ours = Object.keys(annotations).filter((key) => key.startsWith('nocobase-maintenance.io/'));
    if (ours.length > 0) await kubectl(['annotate', 'deployment', name, ...ours.map((key) => `${key}-`)]);
    await kubectl(['set', 'image', `deployment/${name}`, `nocobase=${stackEnv().DEMO_IMAGE_V1}`]);
  }
  await kubectl(['patch', 'service', 'nocobase', '--type', 'merge', '-p', JSON.stringify({
    metadata: { annotations: { 'nocobase-maintenance.io/selector': null } },
    spec: { selector: { 'app.kubernetes.io/name': 'nocobase', 'app.kubernetes.io/component': 'app' } },
  })]);
  await kubectl(['delete', 'jobs', '-l', 'app.kubernetes.io/managed-by=nocobase-maintenance', '--wait=true']).catch(() => '');
  const admin = new Client({ connectionString: process.env.PG_ADMIN_URL });
  await admin.connect();
  try {
    const owner = decodeURIComponent(new URL(stackEnv().DATABASE_URL).username);
    await admin.query(`DROP DATABASE IF EXISTS "${k.database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${k.database}" OWNER "${owner}"`);
  } finally {
    await admin.end();
  }
  for (const entry of fs.readdirSync(k.storageDir)) fs.rmSync(path.join(k.storageDir, entry), { recursive: true, force: true });
  await kubectl(['scale', 'deployment/nocobase', '--replicas=1']);
  await rollout('nocobase');
  await kubectl(['scale', 'deployment/nocobase', '--replicas=2']);
  await kubectl(['scale', 'deployment/nocobase-worker', '--replicas=1']);
  await rollout('nocobase');
  await rollout('nocobase-worker');
}

/** A GET on a connection of its own (no keep-alive): what a new visitor sees now, not what an open connection still reaches. */
export function freshGet(url: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

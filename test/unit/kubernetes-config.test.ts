import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { configProblems } from '../support/config-problems';

const cluster = (overrides: { nodes?: string; kubernetes?: string; loadBalancer?: string; storage?: string } = {}) => `
clusters:
  k8s:
${overrides.kubernetes ?? '    kubernetes: { kubeconfig: /etc/nocobase-maintenance/kubeconfig, namespace: nocobase }'}
    nodes:
${overrides.nodes ?? `      - { name: app-1, deployment: nocobase, replica: 1 }
      - { name: app-2, deployment: nocobase, replica: 2 }
      - { name: worker-1, deployment: nocobase-worker, replica: 1, role: worker }`}
    database: { host: db, database: nocobase, user: nocobase, passwordEnv: PROD_DB_PASSWORD }
    loadBalancer: ${overrides.loadBalancer ?? '{ kind: service, service: nocobase, url: "http://nocobase.example.com/" }'}
    backup: { directory: /var/backups/nocobase }
    storage: ${overrides.storage ?? '{ pvc: nocobase-storage }'}
`;

const problemsOf = (text: string): string => configProblems(text).join('\n');

describe('a cluster on Kubernetes', () => {
  it('has Deployment replicas for nodes, a Service for its load balancer and a PVC for its storage', () => {
    const k8s = parseConfig(cluster(), 'clusters.yaml').clusters.k8s!;
    assert.deepEqual(k8s.kubernetes, { kubeconfig: '/etc/nocobase-maintenance/kubeconfig', namespace: 'nocobase', appPort: 13000 });
    assert.deepEqual(k8s.nodes.map((node) => ('deployment' in node ? `${node.deployment}#${node.replica}` : node.container)), ['nocobase#1', 'nocobase#2', 'nocobase-worker#1']);
    assert.equal(k8s.loadBalancer.kind, 'service');
    assert.deepEqual(k8s.loadBalancer.kind === 'service' && k8s.loadBalancer.maintenanceSelector, { 'app.kubernetes.io/name': 'nocobase-maintenance-page' });
    assert.deepEqual(k8s.storage, { pvc: 'nocobase-storage', mountPath: '/app/nocobase/storage' });
  });

  it('refuses a replica node without a kubernetes: section, a Docker node with one, and a mixed load balancer or storage', () => {
    assert.match(problemsOf(cluster({ kubernetes: '' })), /clusters\.k8s\.nodes\[0\]: a Kubernetes node \(deployment, replica\) needs the cluster's kubernetes: section/);
    assert.match(problemsOf(cluster({ kubernetes: '' })), /clusters\.k8s\.loadBalancer\.kind: kind: service needs the cluster's kubernetes: section/);
    assert.match(problemsOf(cluster({ kubernetes: '' })), /clusters\.k8s\.storage: storage: \{ pvc \} needs the cluster's kubernetes: section/);
    assert.match(
      problemsOf(cluster({ nodes: '      - { name: app-1, dockerHost: "unix:///run/docker.sock", container: app-1, healthUrl: "http://10.0.0.1:13000/api/__health_check" }' })),
      /clusters\.k8s\.nodes\[0\]: expected a Kubernetes node \(deployment, replica\): the cluster has a kubernetes: section/,
    );
    assert.match(problemsOf(cluster({ loadBalancer: '{ runtimeApi: "unix:///run/haproxy/admin.sock", backend: b, maintenanceMap: /etc/haproxy/m.map }' })), /clusters\.k8s\.loadBalancer\.kind: expected kind: service/);
  });

  it('names the wrong key of a replica node and refuses gaps and repeats in the replicas', () => {
    assert.match(problemsOf(cluster({ nodes: '      - { name: app-1, deployment: Nocobase_App, replica: 1 }' })), /clusters\.k8s\.nodes\[0\]\.deployment: expected a Deployment name such as nocobase/);
    assert.match(
      problemsOf(cluster({ nodes: '      - { name: app-1, deployment: nocobase, replica: 1 }\n      - { name: app-3, deployment: nocobase, replica: 3 }' })),
      /clusters\.k8s\.nodes: expected replicas 1\.\.2 of Deployment nocobase, each once \(got 1, 3\)/,
    );
    assert.match(problemsOf(cluster({ kubernetes: '    kubernetes: { namespace: Bad_Name }' })), /clusters\.k8s\.kubernetes\.namespace: expected a namespace name/);
  });
});

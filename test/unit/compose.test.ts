import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load';

const root = join(__dirname, '..', '..');

interface ComposeService {
  build?: string | { context?: string; args?: Record<string, string> };
  profiles?: string[];
  environment?: Record<string, string>;
  container_name?: string;
  volumes?: string[];
}

describe('docker-compose.yml for machines with internet', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };

  it('has the whole stack: Temporal, PostgreSQL, Redis, HAProxy, a mail catcher, the worker and three nodes', () => {
    for (const service of ['temporal', 'postgres', 'redis', 'haproxy', 'mailpit', 'worker', 'app-1', 'app-2', 'app-3']) {
      assert.ok(compose.services[service], `service ${service} is missing`);
    }
  });

  it('never starts the nodes with `docker compose up`, and configures them alike', () => {
    const nodes = ['app-1', 'app-2', 'app-3'].map((name) => compose.services[name]!);
    for (const node of nodes) assert.deepEqual(node.profiles, ['cluster']);
    const shared = ['APP_KEY', 'DB_HOST', 'DB_DATABASE', 'DB_USER', 'DB_PASSWORD'];
    for (const key of shared) assert.equal(new Set(nodes.map((node) => node.environment?.[key])).size, 1, `${key} differs between nodes`);
    assert.ok(nodes.every((node) => node.volumes?.includes('nocobase-storage:/app/nocobase/storage')), 'storage is shared');
  });

  it('builds the worker on the official node image unless NODE_IMAGE is given (machines that cannot pull set it)', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    assert.match(dockerfile, /^FROM \$\{NODE_IMAGE\}$/m);
    assert.equal(compose.services.worker!.build, '.', 'compose passes no NODE_IMAGE: the default is the official image');
  });

  it("ships a cluster config the worker accepts, naming the compose file's containers", () => {
    const config = loadConfig(join(root, 'deploy', 'compose', 'clusters.yaml'));
    const containers = config.clusters.compose!.nodes.map((node) => node.container);
    assert.deepEqual(containers, ['app-1', 'app-2', 'app-3'].map((name) => compose.services[name]!.container_name));
  });
});

// The stack's two clusters as demo-cluster.ts provisions them, read from .stack/env (written by
// scripts/stack/config.sh). Both share the PostgreSQL role, the Docker Engine and HAProxy; each
// has its own image, database, storage volume, node ports and load-balancer backend.
import fs from 'node:fs';
import path from 'node:path';
import type { DemoClusterOptions } from './demo-cluster';

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function optionalSeconds(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return value;
}

export function parsePorts(text: string): number[] {
  const ports = text.trim().split(/\s+/).map(Number);
  if (ports.length === 0 || ports.some((port) => !Number.isInteger(port) || port <= 0 || port > 65535)) {
    throw new Error(`node ports must be space-separated port numbers, got "${text}"`);
  }
  return ports;
}

/** What both clusters share: the PostgreSQL server and role, the Docker Engine. */
function sharedOptions(env: NodeJS.ProcessEnv) {
  const pgAdminUrl = required(env, 'PG_ADMIN_URL');
  const admin = new URL(pgAdminUrl);
  return {
    dockerHost: required(env, 'DOCKER_HOST'),
    pgAdminUrl,
    dbUser: env.DEMO_DB_USER || 'nocobase',
    dbPassword: fs.readFileSync(required(env, 'DEMO_DB_PASSWORD_FILE'), 'utf8').trim(),
    dbHost: env.DEMO_DB_HOST || admin.hostname || '127.0.0.1',
    dbPort: Number(env.DEMO_DB_PORT || admin.port || 5432),
    // Only the stand-in writes events; real nodes get no such mount.
    eventsDir: path.resolve(env.STANDIN_EVENTS_DIR || path.join(env.STACK_DIR || '.stack', 'standin-events')),
  };
}

function loadBalancer(env: NodeJS.ProcessEnv, backend: string, key: string): Pick<DemoClusterOptions, 'loadBalancer'> {
  if (!env.HAPROXY_RUNTIME_API || !env.HAPROXY_MAINTENANCE_MAP) return {};
  const serverStateFile = env.HAPROXY_SERVER_STATE_DIR ? path.join(env.HAPROXY_SERVER_STATE_DIR, backend) : undefined;
  return { loadBalancer: { runtimeApi: env.HAPROXY_RUNTIME_API, backend, maintenanceMap: env.HAPROXY_MAINTENANCE_MAP, key, ...(serverStateFile ? { serverStateFile } : {}) } };
}

/** The `demo` cluster: three real NocoBase nodes on DEMO_IMAGE_V1. Throws naming the first missing variable. */
export function demoOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DemoClusterOptions {
  return {
    ...sharedOptions(env),
    kind: 'nocobase',
    cluster: 'demo',
    image: required(env, 'DEMO_IMAGE_V1'),
    dbName: env.DEMO_DB_NAME || 'nocobase_demo',
    nodePorts: parsePorts(required(env, 'DEMO_NODE_PORTS')),
    root: { email: env.DEMO_ROOT_EMAIL || 'admin@demo.test', password: env.DEMO_ROOT_PASSWORD || 'admin123' },
    seconds: {},
    ...loadBalancer(env, env.HAPROXY_BACKEND || 'demo_nodes', 'demo'),
  };
}

/** The `standin` cluster: three stand-in nodes (the test fixture) on STANDIN_IMAGE_V1. */
export function standinOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DemoClusterOptions {
  return {
    ...sharedOptions(env),
    kind: 'standin',
    cluster: 'standin',
    image: required(env, 'STANDIN_IMAGE_V1'),
    dbName: env.STANDIN_DB_NAME || 'nocobase_standin',
    nodePorts: parsePorts(required(env, 'STANDIN_NODE_PORTS')),
    eventsDir: path.resolve(required(env, 'STANDIN_EVENTS_DIR')),
    seconds: {
      install: optionalSeconds(env, 'STANDIN_INSTALL_SECONDS'),
      upgrade: optionalSeconds(env, 'STANDIN_UPGRADE_SECONDS'),
      plugin: optionalSeconds(env, 'STANDIN_PLUGIN_SECONDS'),
    },
    ...loadBalancer(env, env.STANDIN_HAPROXY_BACKEND || 'standin_nodes', 'standin'),
  };
}

import { MockActivityEnvironment } from '@temporalio/testing';
import { after, before } from 'node:test';
import { createActivities, type Activities } from '../../src/activities';
import { DefaultLogger } from '@temporalio/worker';
import { loadConfig } from '../../src/config/load';
import type { ClusterConfig, MaintenanceConfig } from '../../src/config/schema';
import { buildDeps, type WorkerDeps } from '../../src/worker/deps';
import { demoOptionsFromEnv, nodeContainerSpec, resetDemoCluster, resetLoadBalancer as resetClusterLoadBalancer, standinOptionsFromEnv, type DemoClusterOptions } from '../../scripts/stack/demo-cluster';

const REQUIRED = [
  'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'DOCKER_HOST', 'REGISTRY', 'DATABASE_URL', 'LB_URL', 'SMTP_MAILDIR',
  'NOCOBASE_MAINTENANCE_CONFIG', 'DEMO_IMAGE_V1', 'DEMO_IMAGE_V2', 'DEMO_IMAGE_BROKEN', 'DEMO_ROOT_EMAIL', 'DEMO_ROOT_PASSWORD',
  'STANDIN_IMAGE_V1', 'STANDIN_IMAGE_V2', 'STANDIN_IMAGE_BROKEN', 'STANDIN_LB_URL', 'STANDIN_DATABASE_URL', 'STANDIN_EVENTS_DIR',
] as const;

export type StackEnv = Record<(typeof REQUIRED)[number], string>;

/** The local stack's endpoints; integration and e2e tests refuse to run without them rather than skip. */
export function stackEnv(): StackEnv {
  const missing = REQUIRED.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(`the local stack is not in the environment (missing ${missing.join(', ')}): run \`npm test\`, or \`npm run stack:up && source .stack/env\``);
  }
  return process.env as StackEnv;
}

/**
 * The stack's cluster definitions, optionally changed for one test (shorter timeouts, a broken
 * node): `change` gets the stand-in cluster, the one the activity and procedure tests run on.
 */
export function stackConfig(change: (standin: ClusterConfig, config: MaintenanceConfig) => void = () => undefined): MaintenanceConfig {
  const config = structuredClone(loadConfig(stackEnv().NOCOBASE_MAINTENANCE_CONFIG));
  change(config.clusters.standin!, config);
  return config;
}

export function stackDeps(config: MaintenanceConfig = stackConfig()): WorkerDeps {
  return { ...buildDeps(config), pollIntervalMs: 200 };
}

/** The stand-in cluster with fast timings for tests: they assert order, not duration. */
export function standinOptions(): DemoClusterOptions {
  stackEnv();
  return { ...standinOptionsFromEnv(process.env), seconds: { install: 2, upgrade: 2, plugin: 1 }, log: () => undefined };
}

/**
 * Stand-in node `index` removed and created again (stopped) with extra environment: a node that
 * behaves differently for one test (another database role, SIGTERM ignored). `{}` puts it back.
 */
export async function recreateStandinNode(index: number, env: Record<string, string>): Promise<void> {
  const options = standinOptions();
  const docker = stackDeps().docker(options.dockerHost);
  await docker.getContainer(`standin-node-${index}`).remove({ force: true });
  await docker.createContainer(nodeContainerSpec(options, index, { env }));
}

/** The `demo` cluster: three real NocoBase nodes. */
export function demoOptions(): DemoClusterOptions {
  stackEnv();
  return { ...demoOptionsFromEnv(process.env), log: () => undefined };
}

/**
 * An empty stand-in cluster: containers recreated (stopped), database dropped, event files gone,
 * load balancer servers back in maintenance and the maintenance switch off.
 */
export async function resetStandin(): Promise<void> {
  await resetDemoCluster(standinOptions());
}

/** The same for the real NocoBase `demo` cluster. */
export async function resetDemo(): Promise<void> {
  await resetDemoCluster(demoOptions());
}

/** Every stand-in server back in maintenance and the maintenance switch off: the LB's state after stack:up. */
export async function resetLoadBalancer(options: DemoClusterOptions = standinOptions()): Promise<void> {
  if (!options.loadBalancer) throw new Error('HAPROXY_RUNTIME_API and HAPROXY_MAINTENANCE_MAP are not in the environment');
  await resetClusterLoadBalancer(options.loadBalancer, options.nodePorts.length);
}

/** Runs one activity with a real activity context (heartbeats, cancellation), outside any worker. */
export function runActivity<I, O>(activity: (input: I) => Promise<O>, input: I): Promise<O> {
  // Errors only: the failures these tests provoke on purpose would otherwise print as warnings.
  return new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }).run(activity, input);
}

/**
 * For a suite of activity tests on the stand-in cluster: an empty cluster before, activities bound
 * to the real stack, and the cluster emptied again after, whatever the tests left running.
 */
export function standinActivities(): { readonly deps: WorkerDeps; readonly activities: Activities } {
  const suite = {} as { deps: WorkerDeps; activities: Activities };
  before(async () => {
    await resetStandin();
    suite.deps = stackDeps();
    suite.activities = createActivities(suite.deps);
  });
  after(async () => {
    await suite.deps?.close();
    await resetStandin();
  });
  return suite;
}

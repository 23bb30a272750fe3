import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { runCommand, servedGeneration } from '../../src/adapters/nginx/control';
import { addressOf, parseInclude, renderInclude, type IncludeState } from '../../src/adapters/nginx/include-file';
import { writeAtomically } from '../../src/adapters/local-files';
import { dockerNodesOf, type ClusterConfig, type MaintenanceConfig, type NginxLoadBalancerConfig } from '../../src/config/schema';
import { stackConfig } from './stack';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
export const NGINX_UPSTREAM = 'standin';
const GENERATION_PATH = '/.nocobase-maintenance/generation';

/** The stack's Nginx in front of the stand-in nodes (scripts/stack/nginx.sh), from the environment. */
export function nginxEnv(): { url: string; include: string; command: string[] } {
  const { STANDIN_NGINX_URL: url, STANDIN_NGINX_INCLUDE: include, STANDIN_NGINX_COMMAND: command } = process.env;
  if (!url || !include || !command) {
    throw new Error('the stack\'s Nginx is not in the environment (STANDIN_NGINX_URL, STANDIN_NGINX_INCLUDE, STANDIN_NGINX_COMMAND): run `npm run stack:up && source .stack/env`');
  }
  return { url, include, command: JSON.parse(command) as string[] };
}

/** The stand-in cluster's `loadBalancer:` for the stack's Nginx, as an operator would write it. */
export function nginxLoadBalancer(): NginxLoadBalancerConfig {
  const { url, include, command } = nginxEnv();
  return {
    kind: 'nginx',
    includeFile: include,
    upstream: NGINX_UPSTREAM,
    testCommand: [...command, '-t'],
    reloadCommand: [...command, '-s', 'reload'],
    generationUrl: `${url}${GENERATION_PATH}`,
    url: `${url}/`,
  };
}

/** The stack's cluster definitions with the stand-in cluster behind Nginx instead of HAProxy. */
export function nginxStackConfig(change: (standin: ClusterConfig, config: MaintenanceConfig) => void = () => undefined): MaintenanceConfig {
  return stackConfig((standin, config) => {
    standin.loadBalancer = nginxLoadBalancer();
    change(standin, config);
  });
}

export const generationServed = () => servedGeneration(nginxLoadBalancer().generationUrl);

export function includeState(): IncludeState {
  const parsed = parseInclude(NGINX_UPSTREAM, readFileSync(nginxEnv().include, 'utf8'));
  if (typeof parsed === 'string') return assert.fail(`the include is not the worker's: ${parsed}`);
  return parsed;
}

/**
 * The include as stack:up writes it (every stand-in server out, the page off), at a new
 * generation, and reloaded: the state every Nginx test starts and ends from. Written here, not
 * through the adapter under test.
 */
export async function resetNginx(config: MaintenanceConfig = stackConfig()): Promise<void> {
  const lb = nginxLoadBalancer();
  const served = (await generationServed()) ?? 0;
  const servers = dockerNodesOf(config.clusters.standin!).map((node) => ({ server: node.lbServer ?? node.name, address: addressOf(node.healthUrl), state: 'maint' as const }));
  await writeAtomically(lb.includeFile, renderInclude(NGINX_UPSTREAM, { generation: served + 1, maintenance: false, servers }));
  const reload = await runCommand(lb.reloadCommand);
  if (!reload.ok) throw new Error(`resetting Nginx: ${reload.output}`);
  const deadline = Date.now() + 20_000;
  while ((await generationServed()) !== served + 1) {
    if (Date.now() > deadline) throw new Error('resetting Nginx: the reload did not take');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The directory whose .stack the environment points at: this repo in CI, the main checkout from a worktree. */
const stackRoot = () => dirname(process.env.STACK_DIR ?? assert.fail('STACK_DIR is not in the environment'));

/** Nginx stopped as `stack:down` stops it (TERM to the master), and waits until nothing answers. */
export async function stopNginx(): Promise<void> {
  const master = Number(readFileSync(join(process.env.STACK_DIR!, 'run', 'nginx.pid'), 'utf8').trim());
  process.kill(master, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while ((await generationServed()) !== null || existsProcess(master)) {
    if (Date.now() > deadline) throw new Error('Nginx did not stop');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function existsProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Nginx started the way `npm run stack:up` starts it: the stack's lib.sh (of the checkout the
 * stack belongs to) and this checkout's nginx.sh, then `nginx_start`, as up.sh calls it.
 */
export async function stackUpNginx(): Promise<string> {
  const script = '. "$1/scripts/stack/lib.sh"; . "$2/scripts/stack/nginx.sh"; load_ports; nginx_start';
  const { stderr } = await run('bash', ['-Eeuo', 'pipefail', '-c', script, '_', stackRoot(), ROOT], { cwd: ROOT }).catch((error: unknown) => {
    const failed = error as Error & { stderr?: string };
    throw new Error(`nginx_start failed: ${failed.message}\n${failed.stderr ?? ''}`);
  });
  return stderr;
}

// test-lane: exclusive
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { mapEntry, setMapEntry, setServerState, type ServerAdminState } from '../../src/adapters/haproxy/backend';
import { writeMapFileEntry } from '../../src/adapters/haproxy/map-file';
import { HaproxyRuntime } from '../../src/adapters/haproxy/runtime';
import { persistServerStates, runtimeAdminStates } from '../../src/adapters/haproxy/server-state';
import type { HaproxyLoadBalancerConfig } from '../../src/config/schema';
import { runActivity, stackConfig, stackEnv, standinActivities } from '../support/stack';
import { haproxyOf } from '../support/haproxy-config';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const cluster = 'standin';
const nodes = ['node-1', 'node-2', 'node-3'];

/** The directory whose .stack the environment points at: this repo in CI, the main checkout from a worktree. */
const stackRoot = () => dirname(process.env.STACK_DIR ?? assert.fail('STACK_DIR is not in the environment'));
const pidFile = () => join(process.env.STACK_DIR!, 'run', 'haproxy.pid');
const loadBalancers = (): Record<string, HaproxyLoadBalancerConfig> => {
  const clusters = stackConfig().clusters;
  return { demo: haproxyOf(clusters.demo), standin: haproxyOf(clusters.standin) };
};
const runtime = () => new HaproxyRuntime(loadBalancers().standin!.runtimeApi);

async function answers(): Promise<boolean> {
  return runtime().command('show info').then((text) => /^Pid: /m.test(text), () => false);
}

async function until(ms: number, look: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await look())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms}ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
  } catch {
    return false;
  }
};

/** A crash: SIGKILL to the master and its workers, so nothing gets to write or clean up anything. */
async function crashHaproxy(): Promise<void> {
  const master = Number(readFileSync(pidFile(), 'utf8').trim());
  const workers = execFileSync('pgrep', ['-P', String(master)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  for (const pid of [master, ...workers]) process.kill(pid, 'SIGKILL');
  await until(10_000, async () => ![master, ...workers].some(alive) && !(await answers()), 'HAProxy gone');
}

/**
 * HAProxy started the way `npm run stack:up` starts it when it is down: the stack's lib.sh (of the
 * checkout the stack belongs to, so its paths and pid files are the running stack's) and this
 * checkout's haproxy.sh, then `haproxy_start`, exactly as up.sh calls it.
 */
async function stackUpHaproxy(): Promise<string> {
  const script = '. "$1/scripts/stack/lib.sh"; . "$2/scripts/stack/haproxy.sh"; load_ports; haproxy_start';
  const { stderr } = await run('bash', ['-Eeuo', 'pipefail', '-c', script, '_', stackRoot(), ROOT], { cwd: ROOT }).catch((error: unknown) => {
    const failed = error as Error & { stderr?: string };
    throw new Error(`haproxy_start failed: ${failed.message}\n${failed.stderr ?? ''}`);
  });
  return stderr;
}

describe('npm run stack:up after an HAProxy crash brings the load balancer back as the last procedure left it', () => {
  const suite = standinActivities();
  const saved: Record<string, { states: Map<string, ServerAdminState>; switch: string | null }> = {};

  before(async () => {
    stackEnv();
    for (const [key, lb] of Object.entries(loadBalancers())) {
      saved[key] = { states: await runtimeAdminStates(runtime(), lb.backend), switch: await mapEntry(runtime(), lb.maintenanceMap, lb.maintenanceKey ?? key) };
    }
  });

  after(async () => {
    // Whatever happened: HAProxy running, and every cluster's servers and switch as this test found
    // them, in memory and in the files a later start reads.
    if (!(await answers())) await stackUpHaproxy();
    for (const [key, lb] of Object.entries(loadBalancers())) {
      const { states, switch: value } = saved[key]!;
      for (const [server, state] of states) await setServerState(runtime(), lb.backend, server, state);
      if (lb.serverStateFile) await persistServerStates(runtime(), lb.backend, lb.serverStateFile);
      if (value !== null) {
        await setMapEntry(runtime(), lb.maintenanceMap, lb.maintenanceKey ?? key, value);
        await writeMapFileEntry(lb.maintenanceMapFile ?? lb.maintenanceMap, lb.maintenanceKey ?? key, value);
      }
    }
  });

  it('serves (200) from the same three nodes after the crash and the restart, with the servers ready and the page off', async () => {
    // The end of a successful upgrade: every node checked and in the load balancer, the page off.
    // The first node alone (it installs on the empty database), then the others, as the procedures do.
    for (const node of nodes) {
      await runActivity(suite.activities.startNode, { cluster, node });
      await runActivity(suite.activities.waitNodeReady, { cluster, node, requirePlugins: false });
    }
    await runActivity(suite.activities.setLoadBalancerServers, { cluster, nodes, state: 'ready' });
    await runActivity(suite.activities.setMaintenanceMode, { cluster, on: false });
    await runActivity(suite.activities.waitLoadBalancerServing, { cluster, nodes });
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);

    await crashHaproxy();
    const log = await stackUpHaproxy();

    const lb = loadBalancers().standin!;
    const states = await runtimeAdminStates(runtime(), lb.backend);
    assert.deepEqual(nodes.map((node) => states.get(node)), ['ready', 'ready', 'ready'], 'the servers as the procedure left them');
    assert.equal(await mapEntry(runtime(), lb.maintenanceMap, cluster), 'off');
    await runActivity(suite.activities.waitLoadBalancerServing, { cluster, nodes });
    assert.equal((await fetch(stackEnv().STANDIN_LB_URL)).status, 200);
    assert.match(log, /standin_nodes: node-1 ready, node-2 ready, node-3 ready/, 'the start says which states it brought back');
  });
});

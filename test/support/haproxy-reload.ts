import { readFileSync } from 'node:fs';
import path from 'node:path';
import { HaproxyRuntime } from '../../src/adapters/haproxy/runtime';
import { stackConfig } from './stack';
import { haproxyOf } from './haproxy-config';

/** The stack's HAProxy master (scripts/stack/haproxy.sh runs it in master-worker mode). */
// The stack the environment points at (STACK_DIR): this repo's in CI, the main checkout's from a worktree.
const pidFile = () => path.join(process.env.STACK_DIR ?? path.resolve(__dirname, '../../.stack'), 'run', 'haproxy.pid');

async function workerPid(runtime: HaproxyRuntime): Promise<string | null> {
  try {
    return /^Pid: (\d+)$/m.exec(await runtime.command('show info'))?.[1] ?? null;
  } catch {
    return null; // between the old worker closing its socket and the new one binding it
  }
}

/**
 * Reloads the stack's HAProxy as `systemctl reload haproxy` does (SIGUSR2 to the master: the
 * config, map and server state files are read again, memory-only changes are lost) and returns
 * once the new worker answers on the runtime API. `haproxy_reload` in scripts/stack/haproxy.sh
 * does the same from a shell.
 */
export async function reloadHaproxy(): Promise<void> {
  const runtime = new HaproxyRuntime(haproxyOf(stackConfig().clusters.standin).runtimeApi);
  const before = await workerPid(runtime);
  if (!before) throw new Error('HAProxy does not answer on the runtime API before the reload');
  const master = Number(readFileSync(pidFile(), 'utf8').trim());
  process.kill(master, 'SIGUSR2');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const now = await workerPid(runtime);
    if (now && now !== before) return;
    if (Date.now() > deadline) throw new Error(`HAProxy (master ${master}) did not replace its worker ${before} within 20s of SIGUSR2`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

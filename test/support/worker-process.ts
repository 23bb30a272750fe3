import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * Runs the real worker entry point (`npm run worker`'s command) as a child process with the
 * stack's environment, and resolves once it reports that it polls its task queue.
 */
export interface WorkerProcess {
  child: ChildProcess;
  /** stdout and stderr as they interleaved. */
  output: () => string;
  /** stdout alone (a JSON log is one object per line there). */
  stdout: () => string;
  /** SIGINT, as Ctrl-C: the worker drains and exits. */
  stop: () => Promise<void>;
  /** SIGKILL to the whole process group (tsx runs the worker in a child node process). */
  kill: () => Promise<void>;
}

export async function startWorkerProcess(env: NodeJS.ProcessEnv = process.env): Promise<WorkerProcess> {
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'src', 'worker', 'main.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so a kill reaches tsx's child too
  });
  let output = '';
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start in 120s:\n${output}`)), 120_000);
    const check = () => {
      if (output.includes('worker polling task queue')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${String(code)} before polling:\n${output}`));
    });
  });
  return {
    child,
    output: () => output,
    stdout: () => stdout,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid!, 'SIGINT');
      await exited;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    },
  };
}

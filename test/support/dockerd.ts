import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const STACK = path.resolve(__dirname, '../../scripts/stack');

/** Runs `body` in a shell that has the stack's docker.sh loaded with the mode stack:up decided. */
async function withDockerScript(body: string): Promise<string> {
  const script = `set -euo pipefail; . "${STACK}/lib.sh"; . "${STACK}/docker.sh"; docker_resolve_mode saved; ${body}`;
  const { stdout } = await run('bash', ['-c', script], { timeout: 180_000 });
  return stdout.trim();
}

/** True when the stack runs its own dockerd (an external engine is never stopped by tests). */
export async function ownDockerd(): Promise<boolean> {
  return (await withDockerScript('echo "$DOCKER_MODE"')) === 'own';
}

/**
 * An outage of the Docker Engine as a crash or an upgrade of the docker package gives it: dockerd
 * gets SIGTERM and shuts down with its containers (no `docker stop` first), and stays away.
 */
export async function stopDockerd(): Promise<void> {
  await withDockerScript('pid="$(live_pid dockerd "$DOCKER_DATA_ROOT")"; stop_pid dockerd "$pid" 40');
}

/** Starts the stack's dockerd again, as stack:up does; returns once it answers. */
export async function startDockerd(): Promise<void> {
  await withDockerScript('docker_start >/dev/null');
}

import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { followDockerStream } from '../../scripts/stack/docker-build';
import { demuxDockerLogs } from '../../src/adapters/docker/logs';

const ROOT = path.join(__dirname, '..', '..');

/** The repo files the Dockerfile COPYs, and the Dockerfile: the context, minus .dockerignore's patterns. */
export function dockerfileContext(): string[] {
  const sources = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').split('\n')
    .filter((line) => /^COPY\s/i.test(line) && !/--from=/.test(line))
    .flatMap((line) => line.trim().split(/\s+/).slice(1, -1).filter((word) => !word.startsWith('--')));
  return [...new Set(['Dockerfile', ...sources])];
}

/** Builds the repo's Dockerfile as `tag` on `base` (its NODE_IMAGE), as docker-compose.yml's `build: .` does. */
export async function buildWorkerImage(docker: Docker, tag: string, base: string): Promise<void> {
  const output: string[] = [];
  const stream = await docker.buildImage({ context: ROOT, src: dockerfileContext() }, {
    t: tag,
    buildargs: { NODE_IMAGE: base },
    networkmode: 'host', // the engine runs with --bridge=none: npm ci needs the host's network
    rm: true,
    forcerm: true,
  });
  await followDockerStream(docker, stream, (line) => output.push(line)).catch((error: unknown) => {
    throw new Error(`the Dockerfile did not build on ${base}: ${(error as Error).message}\n--- build output ---\n${output.join('\n')}`);
  });
}

export async function containerLogs(docker: Docker, name: string): Promise<string> {
  const logs = await docker.getContainer(name).logs({ stdout: true, stderr: true, follow: false });
  return demuxDockerLogs(logs);
}

/** Waits until the container's log shows `line`; fails with its log when it exits or takes 120 s. */
export async function awaitLogLine(docker: Docker, name: string, line: string | RegExp): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const logs = await containerLogs(docker, name);
    if (typeof line === 'string' ? logs.includes(line) : line.test(logs)) return;
    const { State } = await docker.getContainer(name).inspect();
    if (!State.Running) throw new Error(`container ${name} exited with ${State.ExitCode} before "${String(line)}":\n${logs}`);
    if (Date.now() > deadline) throw new Error(`container ${name} did not log "${String(line)}" within 120 s:\n${logs}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

export async function removeContainer(docker: Docker, name: string): Promise<void> {
  await docker.getContainer(name).remove({ force: true }).catch((error: unknown) => {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  });
}

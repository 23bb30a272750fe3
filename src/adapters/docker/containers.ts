import type Docker from 'dockerode';
import { isNotFound, isNotModified, nullIfNotFound } from './errors';
import { demuxDockerLogs } from './logs';

/** A container as the Engine sees it, or null when there is none of that name or ID. */
export function inspectContainer(docker: Docker, name: string): Promise<Docker.ContainerInspectInfo | null> {
  return nullIfNotFound(docker.getContainer(name).inspect());
}

/** Starts a container; one already running is fine (the Engine answers 304). */
export async function startContainer(docker: Docker, name: string): Promise<void> {
  try {
    await docker.getContainer(name).start();
  } catch (error) {
    if (!isNotModified(error)) throw error;
  }
}

/**
 * Stops a container (SIGTERM, SIGKILL after `seconds`); one already stopped is fine, and so is one
 * that is gone when `missingOk` (a replacement being removed anyway).
 */
export async function stopContainer(docker: Docker, name: string, seconds: number, missingOk = false): Promise<void> {
  try {
    await docker.getContainer(name).stop({ t: seconds });
  } catch (error) {
    if (!isNotModified(error) && !(missingOk && isNotFound(error))) throw error;
  }
}

/** Removes a container, never its volumes; false when it was already gone. */
export async function removeContainer(docker: Docker, name: string, force: boolean): Promise<boolean> {
  return (await nullIfNotFound(docker.getContainer(name).remove({ force, v: false }).then(() => true))) ?? false;
}

/** The last `lines` of a container's output, demultiplexed. */
export async function containerLogTail(container: Docker.Container, lines: number): Promise<string> {
  const logs = (await container.logs({ stdout: true, stderr: true, follow: false, tail: lines })) as unknown as Buffer;
  return demuxDockerLogs(logs).trim();
}

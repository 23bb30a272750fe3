import type Docker from 'dockerode';
import { dockerStatus, isNotFound, isNotModified, nullIfNotFound } from './errors';
import { execInContainer } from './exec';
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
 * Stops a container (SIGTERM to PID 1 and, if it ignores it, to the processes beneath it; then
 * `docker stop`: SIGKILL after `seconds`); one already stopped is fine, and so is one
 * that is gone when `missingOk` (a replacement being removed anyway).
 */
export async function stopContainer(docker: Docker, name: string, seconds: number, missingOk = false): Promise<void> {
  await terminateBeneathPid1(docker, name);
  try {
    await docker.getContainer(name).stop({ t: seconds });
  } catch (error) {
    if (!isNotModified(error) && !(missingOk && isNotFound(error))) throw error;
  }
}

/** What a stop ended with: the Engine's view of the container once it was checked (and killed if need be). */
export interface StopOutcome {
  /** The container was still running after the graceful stop and SIGKILL had to be sent. */
  killed: boolean;
  /** Not running and no process ID: the process is really gone. */
  gone: boolean;
  status: string;
  pid: number;
}

const KILL_LOOKS = 20;
const KILL_LOOK_MS = 250;

const processGone = (info: Docker.ContainerInspectInfo): boolean => !info.State.Running && !info.State.Pid;

/** How long PID 1 gets to end on SIGTERM before the processes beneath it are signalled too. */
const PID1_GRACE_MS = 1_000;
const PID1_LOOK_MS = 100;

/**
 * SIGTERM to PID 1 and, when it still runs a moment later, to every other process in the
 * container (`kill -TERM -1` from inside, which spares PID 1). NocoBase's official image runs its
 * entrypoint under /bin/sh as PID 1, which ignores SIGTERM and does not pass it on: `docker stop`
 * alone waits out its whole grace and then SIGKILLs NocoBase in the middle of whatever it does,
 * while NocoBase itself, once signalled, drains its queues and closes the database in under a
 * second (measured on 2.2.15). Best effort: an image without a shell, or a container that is
 * already stopping, is left to `docker stop`'s SIGTERM, grace and SIGKILL.
 */
async function terminateBeneathPid1(docker: Docker, name: string): Promise<void> {
  const container = docker.getContainer(name);
  try {
    await container.kill({ signal: 'SIGTERM' });
  } catch {
    return; // not running (409) or gone: docker stop below says what it is
  }
  for (let waited = 0; waited < PID1_GRACE_MS; waited += PID1_LOOK_MS) {
    await new Promise((resolve) => setTimeout(resolve, PID1_LOOK_MS));
    if (processGone(await container.inspect())) return;
  }
  await execInContainer(docker, name, ['sh', '-c', 'kill -TERM -1']).catch(() => undefined);
}

/**
 * Stops a container (stopContainer) and checks that its process is gone: SIGKILL after `seconds`
 * (a node that ignores SIGTERM altogether is killed then); it answers once it considers the
 * container stopped, and that is verified here (`State.Running` false, `State.Pid` 0) rather than
 * trusted. A container still running is killed and looked at once more; `gone: false` after that is
 * for the caller to report.
 */
export async function stopContainerUntilGone(docker: Docker, name: string, seconds: number): Promise<StopOutcome> {
  await stopContainer(docker, name, seconds);
  const container = docker.getContainer(name);
  let info = await container.inspect();
  let killed = false;
  if (!processGone(info)) {
    killed = true;
    await container.kill({ signal: 'SIGKILL' }).catch((error: unknown) => {
      // 409: it stopped between the look and the kill, which is what we want.
      if (dockerStatus(error) !== 409 && !isNotModified(error)) throw error;
    });
    // Bounded: an Engine that cannot kill the process must not hang the stop forever.
    for (let look = 0; look < KILL_LOOKS && !processGone(info); look++) {
      await new Promise((resolve) => setTimeout(resolve, KILL_LOOK_MS));
      info = await container.inspect();
    }
  }
  return { killed, gone: processGone(info), status: info.State.Status, pid: info.State.Pid };
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

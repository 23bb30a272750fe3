import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type Docker from 'dockerode';
import { FailureType } from '../../common/failure-types';
import type { StorageConfig } from '../../config/schema';
import { fileSlug } from '../postgres/whole-database';
import { demuxDockerLogs } from './logs';
import { dockerStatus, isNotFound } from './errors';

/**
 * Short-lived helper containers from `backup.toolImage`, run next to the storage on its own Docker
 * host: the worker may be on another machine, and the Engine API (archive up/download, run) is the
 * one way in that works for a local volume, an NFS-backed one and a host directory alike.
 */

export const TOOL_LABEL = 'nocobase-maintenance.tool';
const TOOL_KIND = 'storage';
/** Where every helper sees the storage, whatever the nodes' mountPath. */
export const STORAGE_TARGET = '/storage';
const HEARTBEAT_MS = 2_000;

/** Registry answers that will not change on a retry. */
const PERMANENT_PULL_ERROR = /manifest unknown|not found|repository does not exist|invalid reference|unauthorized/i;

/** A fixed name per cluster, label and purpose: a retry finds (and removes) what an earlier attempt left. */
export function toolContainerName(cluster: string, label: string, purpose: string): string {
  return `${cluster}-storage-tool-${fileSlug(label)}-${purpose}`;
}

export function storageSource(storage: StorageConfig): `volume:${string}` | `hostPath:${string}` {
  return storage.volume !== undefined ? `volume:${storage.volume}` : `hostPath:${storage.hostPath ?? ''}`;
}

/** Pulls the tool image onto the storage's host unless it is there, heartbeating the pull's progress. */
export async function ensureToolImage(docker: Docker, image: string, dockerHost: string): Promise<void> {
  try {
    await docker.getImage(image).inspect();
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  log.info('pulling the tool image', { image, dockerHost });
  try {
    const stream = await docker.pull(image);
    await new Promise<void>((resolve, reject) => {
      let streamError: string | undefined;
      docker.modem.followProgress(
        stream,
        // The Engine reports a failed pull inside a 200 stream: an `error` event must not be lost.
        (error: Error | null) => (error ? reject(error) : streamError ? reject(new Error(streamError)) : resolve()),
        (event: { status?: string; id?: string; progress?: string; error?: string }) => {
          if (event.error) streamError ??= event.error;
          Context.current().heartbeat({ image, status: event.status, layer: event.id, progress: event.progress });
        },
      );
    });
  } catch (error) {
    const message = `tool image ${image} cannot be pulled onto ${dockerHost}: ${(error as Error).message} (check backup.toolImage)`;
    if (PERMANENT_PULL_ERROR.test((error as Error).message)) throw ApplicationFailure.nonRetryable(message, FailureType.ImageUnavailable);
    throw ApplicationFailure.retryable(message, FailureType.ImageUnavailable);
  }
}

/**
 * Refuses a volume that does not exist: mounting it would make Docker create an empty local one,
 * and a backup of that is a backup of nothing (or a restore into a volume no node uses).
 */
export async function checkStorageExists(docker: Docker, storage: StorageConfig, failure: FailureType): Promise<void> {
  if (storage.volume === undefined) return;
  try {
    await docker.getVolume(storage.volume).inspect();
  } catch (error) {
    if (isNotFound(error)) {
      throw ApplicationFailure.nonRetryable(`storage volume "${storage.volume}" does not exist on ${storage.dockerHost}`, failure);
    }
    throw error;
  }
}

export interface ToolContainerSpec {
  cluster: string;
  label: string;
  purpose: string;
  image: string;
  storage: StorageConfig;
  readOnly: boolean;
  cmd?: string[];
}

/**
 * Creates the helper (not started), hands it to `work`, and removes it afterwards whatever
 * happened, so no helper outlives its activity holding the volume. A leftover of an earlier
 * attempt under the same name is removed first; a container of that name that is not a helper
 * of ours is refused rather than removed.
 */
export async function withToolContainer<T>(docker: Docker, spec: ToolContainerSpec, work: (container: Docker.Container) => Promise<T>): Promise<T> {
  const name = toolContainerName(spec.cluster, spec.label, spec.purpose);
  await removeLeftover(docker, name);
  const mount: Docker.MountSettings = spec.storage.volume !== undefined
    // NoCopy: Docker would otherwise copy the image's files at the target into an empty volume.
    ? { Type: 'volume', Source: spec.storage.volume, Target: STORAGE_TARGET, ReadOnly: spec.readOnly, VolumeOptions: { NoCopy: true } as Docker.MountSettings['VolumeOptions'] }
    : { Type: 'bind', Source: spec.storage.hostPath ?? '', Target: STORAGE_TARGET, ReadOnly: spec.readOnly };
  let container: Docker.Container;
  try {
    container = await docker.createContainer({
      name,
      Image: spec.image,
      // Never run for getArchive/putArchive, but the Engine refuses to create a container without a command.
      Cmd: spec.cmd ?? ['true'],
      Labels: { [TOOL_LABEL]: TOOL_KIND, 'nocobase-maintenance.cluster': spec.cluster },
      HostConfig: { NetworkMode: 'none', Mounts: [mount] },
    });
  } catch (error) {
    const message = (error as Error).message;
    if (dockerStatus(error) === 400 && /bind source path does not exist|invalid mount/i.test(message)) {
      throw ApplicationFailure.nonRetryable(`storage ${mount.Source} cannot be mounted on ${spec.storage.dockerHost}: ${message}`, FailureType.Misconfigured);
    }
    throw error;
  }
  try {
    return await work(container);
  } finally {
    await container.remove({ force: true, v: false }).catch((error: unknown) => {
      if (!isNotFound(error)) log.warn('could not remove a storage helper container', { name, error: (error as Error).message });
    });
  }
}

async function removeLeftover(docker: Docker, name: string): Promise<void> {
  let info: Docker.ContainerInspectInfo;
  try {
    info = await docker.getContainer(name).inspect();
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  if (info.Config.Labels?.[TOOL_LABEL] !== TOOL_KIND) {
    throw ApplicationFailure.nonRetryable(`a container named "${name}" that is not a storage helper is in the way`, FailureType.Misconfigured);
  }
  try {
    // By ID: the name is what we looked up, the ID is what we checked.
    await docker.getContainer(info.Id).remove({ force: true, v: false });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  log.info('removed a storage helper left by an earlier attempt', { name });
}

/**
 * Starts the helper and waits for it to exit, heartbeating; returns its exit code and output.
 * Cancelling the activity stops waiting (withToolContainer's cleanup then kills the helper).
 */
export async function runToCompletion(container: Docker.Container): Promise<{ exitCode: number; output: string }> {
  const context = Context.current();
  const started = Date.now();
  await container.start();
  const heartbeat = setInterval(() => context.heartbeat({ helper: container.id, runningMs: Date.now() - started }), HEARTBEAT_MS);
  try {
    const exit = (await Promise.race([container.wait(), context.cancelled])) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true, follow: false, tail: 20 })) as unknown as Buffer;
    return { exitCode: exit.StatusCode, output: demuxDockerLogs(logs).trim() };
  } finally {
    clearInterval(heartbeat);
  }
}

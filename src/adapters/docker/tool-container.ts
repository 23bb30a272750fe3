import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { FailureType } from '../../common/failure-types';
import type { DockerStorageConfig } from '../../config/schema';
import { fileSlug } from '../backup-files/file-slug';
import { progressEvery, whenAborted, type Hooks } from '../hooks';
import { containerLogTail, inspectContainer, removeContainer } from './containers';
import { dockerStatus, isNotFound } from './errors';
import { ensureImage } from './image-pull';

/**
 * Short-lived helper containers from `backup.toolImage`, run next to the storage on its own Docker
 * host: the worker may be on another machine, and the Engine API (archive up/download, run) is the
 * one way in that works for a local volume, an NFS-backed one and a host directory alike.
 */

export const TOOL_LABEL = 'nocobase-maintenance.tool';
const TOOL_KIND = 'storage';
/** Where every helper sees the storage, whatever the nodes' mountPath. */
export const STORAGE_TARGET = '/storage';

/** A fixed name per cluster, label and purpose: a retry finds (and removes) what an earlier attempt left. */
export function toolContainerName(cluster: string, label: string, purpose: string): string {
  return `${cluster}-storage-tool-${fileSlug(label)}-${purpose}`;
}

export function storageSource(storage: DockerStorageConfig): `volume:${string}` | `hostPath:${string}` {
  return storage.volume !== undefined ? `volume:${storage.volume}` : `hostPath:${storage.hostPath ?? ''}`;
}

/** Pulls the tool image onto the storage's host unless it is there. */
export async function ensureToolImage(docker: Docker, image: string, dockerHost: string, hooks: Hooks): Promise<void> {
  await ensureImage(docker, image, { dockerHost, what: 'tool image', hint: 'check backup.toolImage', hooks });
}

/**
 * Refuses a volume that does not exist: mounting it would make Docker create an empty local one,
 * and a backup of that is a backup of nothing (or a restore into a volume no node uses).
 */
export async function checkStorageExists(docker: Docker, storage: DockerStorageConfig, failure: FailureType): Promise<void> {
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
  storage: DockerStorageConfig;
  readOnly: boolean;
  cmd?: string[];
}

/**
 * Creates the helper (not started), hands it to `work`, and removes it afterwards whatever
 * happened, so no helper outlives its activity holding the volume. A leftover of an earlier
 * attempt under the same name is removed first; a container of that name that is not a helper
 * of ours is refused rather than removed.
 */
export async function withToolContainer<T>(docker: Docker, spec: ToolContainerSpec, hooks: Hooks, work: (container: Docker.Container) => Promise<T>): Promise<T> {
  const name = toolContainerName(spec.cluster, spec.label, spec.purpose);
  await removeLeftover(docker, name, hooks);
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
    await removeContainer(docker, container.id, true).catch((error: unknown) => {
      hooks.log?.('warn', 'could not remove a storage helper container', { name, error: (error as Error).message });
    });
  }
}

async function removeLeftover(docker: Docker, name: string, hooks: Hooks): Promise<void> {
  const info = await inspectContainer(docker, name);
  if (!info) return;
  if (info.Config.Labels?.[TOOL_LABEL] !== TOOL_KIND) {
    throw ApplicationFailure.nonRetryable(`a container named "${name}" that is not a storage helper is in the way`, FailureType.Misconfigured);
  }
  // By ID: the name is what we looked up, the ID is what we checked.
  await removeContainer(docker, info.Id, true);
  hooks.log?.('info', 'removed a storage helper left by an earlier attempt', { name });
}

/**
 * Starts the helper and waits for it to exit, reporting progress; returns its exit code and
 * output. An aborted `hooks.signal` stops the waiting (withToolContainer's cleanup then kills
 * the helper).
 */
export async function runToCompletion(container: Docker.Container, hooks: Hooks): Promise<{ exitCode: number; output: string }> {
  const started = Date.now();
  await container.start();
  const stop = progressEvery(hooks, () => ({ helper: container.id, runningMs: Date.now() - started }));
  try {
    const exit = (await Promise.race([container.wait(), whenAborted(hooks.signal)])) as { StatusCode: number };
    return { exitCode: exit.StatusCode, output: await containerLogTail(container, 20) };
  } finally {
    stop();
  }
}

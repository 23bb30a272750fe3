import type { Readable } from 'node:stream';
import type { FailureType } from '../../common/failure-types';

/**
 * The shared storage every node mounts, as the storage activities need it: the port beside the
 * nodes and the traffic switch. docker-volume.ts (a volume or host path, reached by a helper
 * container on its Docker host) and kubernetes-volume.ts (a PVC, reached by a Job that mounts it)
 * are its adapters; factory.ts picks one. Paths are relative to the storage's root.
 */
export interface StorageVolume {
  /** What it is, for records and messages: `volume:<name>`, `hostPath:<path>`, `pvc:<namespace>/<claim>`. */
  readonly source: `volume:${string}` | `hostPath:${string}` | `pvc:${string}`;
  /** Refuses (non-retryable, as `failure`) a storage that does not exist, before anything mounts it. */
  ensureReady(failure: FailureType): Promise<void>;
  /** The storage's content as a tar stream of `./…` entries (modes, owners, mtimes), handed to `sink`. */
  archive<T>(label: string, sink: (tar: Readable) => Promise<T>): Promise<T>;
  /** Runs a command (sh -c …) at the storage's root, writable; exit code and output. */
  run(label: string, purpose: string, command: string[]): Promise<{ exitCode: number; output: string }>;
  /** Unpacks a tar stream of `./…` entries into the directory `into` (relative, existing). */
  unpack(label: string, into: string, tar: Readable): Promise<void>;
}

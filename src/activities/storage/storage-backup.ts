import { ApplicationFailure, log } from '@temporalio/activity';
import { pipeline as pipe, type Readable } from 'node:stream';
import { archiveScanner, archiveUpload, scanArchiveStream } from '../../adapters/backup-files/tar-archive';
import type { Hooks } from '../../adapters/hooks';
import { checkStorageExists, ensureToolImage, runToCompletion, storageSource, STORAGE_TARGET, withToolContainer } from '../../adapters/docker/tool-container';
import { FailureType } from '../../common/failure-types';
import type { StorageBackupRecord } from '../../common/procedure-types';
import type { ClusterConfig, DockerStorageConfig, StorageConfig } from '../../config/schema';
import { activityHooks } from '../activity-context';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { backupKey, finishedRecord, keyOfRecord, thisWorker, writeRecord } from '../backup/store/backup-objects';
import type { BackupStore } from '../backup/store/backup-store';
import { backupStore } from '../backup/store/factory';
import { ensureMarkerVisible, writeMarker } from '../backup/store/shared-marker';
import { prepareScript, swapPlaces, swapScript } from './storage-swap';

// Design: the storage is shared by every node (uploads, plugins), so it is backed up and restored
// as a whole, next to the database dump, while the nodes are stopped. The archive is Docker's own
// (getArchive of `<storage>/.`): entries `./…` with modes, owners and mtimes, which putArchive
// unpacks back at the same relative paths.

export interface StorageRestoreOutcome {
  /** The tar file the storage now comes from. */
  restoredFrom: string;
  /** Regular files put back. */
  files: number;
}

export function createStorageActivities(deps: ActivityDeps) {
  /** The Docker part of the storage port (a volume or host path next to a tool container). */
  function dockerStorage(clusterName: string, storage: StorageConfig): DockerStorageConfig {
    if ('pvc' in storage) {
      throw ApplicationFailure.nonRetryable(`cluster ${clusterName}: storage on PVC ${storage.pvc} is archived by the Kubernetes storage adapter, which this worker lacks`, FailureType.Misconfigured);
    }
    return storage;
  }

  function storageOf(clusterName: string, cluster: ClusterConfig): DockerStorageConfig {
    if (!cluster.storage) {
      throw ApplicationFailure.nonRetryable(`cluster "${clusterName}" has no storage configured to restore into`, FailureType.Misconfigured);
    }
    return dockerStorage(clusterName, cluster.storage);
  }

  /** A damaged, foreign or missing archive is refused before the storage is touched. */
  async function verifyArchive(store: BackupStore, backup: StorageBackupRecord, hooks: Hooks): Promise<void> {
    const key = keyOfRecord(backup);
    const location = store.locationOf(key);
    const source = await store.open(key, hooks);
    if (!source) throw ApplicationFailure.nonRetryable(`storage archive ${location} does not exist in the backup store ${store.description}`, FailureType.RestoreFailed);
    const scan = await scanArchiveStream(source, hooks);
    if (scan.checksum !== backup.checksum) {
      throw ApplicationFailure.nonRetryable(
        `storage archive ${location} is damaged: sha256 ${scan.checksum} instead of the recorded ${backup.checksum}; nothing was changed`,
        FailureType.RestoreFailed,
      );
    }
    if (!scan.complete || scan.strayEntry !== null) {
      const why = scan.strayEntry !== null ? `entry "${scan.strayEntry}" would not land inside the storage` : 'it ends before the end-of-archive marker';
      throw ApplicationFailure.nonRetryable(`storage archive ${location} is not one of ours: ${why}; nothing was changed`, FailureType.RestoreFailed);
    }
  }

  return {
    /**
     * Archives the cluster's shared storage into the backup store as `<cluster>-<label>.storage.tar`
     * with a `.json` sidecar holding the returned record; null when the cluster has no `storage`.
     * Creates (never starts) a helper container from `backup.toolImage` on the storage's Docker
     * host with the storage mounted read-only, streams its archive into the store while hashing
     * (no copy on the worker's disk; a stream cut short is never completed), and removes the helper. Pulls the tool image if it is missing. The nodes should be stopped, or
     * the archive may catch files mid-write. Safe to retry: a finished archive of this label is
     * returned as it is; anything else under the label is an interrupted attempt and redone.
     * Heartbeats while streaming.
     */
    async backupStorage(input: { cluster: string; label: string }): Promise<StorageBackupRecord | null> {
      const cluster = getCluster(deps, input.cluster);
      if (!cluster.storage) return null;
      const storage = dockerStorage(input.cluster, cluster.storage);
      const hooks = activityHooks();
      const store = backupStore(deps, input.cluster);
      await store.ensureReady();
      const key = backupKey(input.cluster, input.label, '.storage.tar');
      const finished = await finishedRecord<StorageBackupRecord>(store, key, async (found) => {
        const source = await store.open(found, hooks);
        return source ? (await scanArchiveStream(source, hooks)).checksum : null;
      });
      if (finished) return finished;
      await writeMarker(store, input.cluster, input.label);

      const docker = deps.docker(storage.dockerHost);
      await ensureToolImage(docker, cluster.backup.toolImage, storage.dockerHost, hooks);
      await checkStorageExists(docker, storage, FailureType.BackupFailed);
      const started = Date.now();
      const spec = { cluster: input.cluster, label: input.label, purpose: 'backup', image: cluster.backup.toolImage, storage, readOnly: true };
      const scan = await withToolContainer(docker, spec, hooks, async (container) => {
        // `/.`: the directory's contents as `./…`, not a `storage/` directory around them.
        const archive = (await container.getArchive({ path: `${STORAGE_TARGET}/.` })) as unknown as Readable;
        // Streamed into the store; a stream Docker cut short fails the scanner, so no object is completed.
        const { transform, result } = archiveScanner('bytesStored', hooks, true);
        try {
          await store.put(key, pipe(archive, transform, () => undefined), hooks);
        } catch (error) {
          throw ApplicationFailure.retryable(`archiving ${storageSource(storage)} into ${store.locationOf(key)} failed: ${(error as Error).message}`, FailureType.BackupFailed);
        }
        return result();
      });
      const record: StorageBackupRecord = {
        cluster: input.cluster,
        location: store.locationOf(key),
        key,
        label: input.label,
        writtenBy: thisWorker(),
        sizeBytes: scan.sizeBytes,
        checksum: scan.checksum,
        files: scan.files,
        durationMs: Date.now() - started,
        createdAt: new Date(started).toISOString(),
        source: storageSource(storage),
      };
      await writeRecord(store, key, record);
      log.info('storage archived', { cluster: input.cluster, source: record.source, location: record.location, files: scan.files, sizeBytes: scan.sizeBytes, durationMs: record.durationMs });
      return record;
    },

    /**
     * Brings the cluster's storage back to `backup`, byte for byte: files created since are
     * removed, changed ones put back with their modes. Verifies the archive's sha256 first and
     * refuses (RestoreFailed, non-retryable) a damaged or foreign archive, and (BackupStoreNotShared)
     * a store in which this worker cannot see the backing run's marker, before touching anything.
     * Never deletes the live files first: unpacks into a staging directory on the storage, then
     * swaps by renames, setting the live entries aside until the swap is done (storage-swap.ts);
     * helpers from `backup.toolImage` do it and are removed afterwards. The nodes must be stopped.
     * Safe to retry from any point, on any worker: an attempt that died half-way is finished by
     * the next, and no upload is ever only in the archive.
     */
    async restoreStorage(input: { cluster: string; backup: StorageBackupRecord; label: string }): Promise<StorageRestoreOutcome> {
      const cluster = getCluster(deps, input.cluster);
      const { backup, label } = input;
      if (backup.cluster !== input.cluster) {
        throw ApplicationFailure.nonRetryable(`storage backup of ${backup.cluster} cannot restore ${input.cluster}`, FailureType.RestoreFailed);
      }
      const storage = storageOf(input.cluster, cluster);
      const hooks = activityHooks();
      const store = backupStore(deps, input.cluster);
      // Both before anything is touched: a store this worker does not share, then a damaged archive.
      if (backup.label) await ensureMarkerVisible(store, input.cluster, backup.label, backup.writtenBy);
      await verifyArchive(store, backup, hooks);

      const docker = deps.docker(storage.dockerHost);
      await ensureToolImage(docker, cluster.backup.toolImage, storage.dockerHost, hooks);
      await checkStorageExists(docker, storage, FailureType.RestoreFailed);
      const spec = { cluster: input.cluster, label, image: cluster.backup.toolImage, storage, readOnly: false };
      const places = swapPlaces(label);
      const run = async (purpose: string, cmd: string[]): Promise<string> => {
        const done = await withToolContainer(docker, { ...spec, purpose, cmd }, hooks, (container) => runToCompletion(container, hooks));
        if (done.exitCode !== 0) {
          throw ApplicationFailure.retryable(`${purpose} of ${storageSource(storage)} exited with ${done.exitCode}: ${done.output || '(no output)'}`, FailureType.RestoreFailed);
        }
        return done.output.trim();
      };
      const state = await run('prepare', prepareScript(places));
      if (state.endsWith('empty')) {
        const source = await store.open(keyOfRecord(backup), hooks);
        if (!source) throw ApplicationFailure.nonRetryable(`storage archive ${backup.location} vanished from the backup store`, FailureType.RestoreFailed);
        await withToolContainer(docker, { ...spec, purpose: 'restore' }, hooks, async (container) => {
          // Entries are `./…`: unpacked in the staging directory they land at their relative paths there.
          await container.putArchive(archiveUpload(source, hooks), { path: `${STORAGE_TARGET}/${places.staging}` });
        });
        log.info('storage unpacked beside the live files', { cluster: input.cluster, staging: places.staging });
      }
      if (!state.endsWith('done')) await run('swap', swapScript(places));
      log.info('storage restored', { cluster: input.cluster, source: storageSource(storage), from: backup.location, files: backup.files });
      return { restoredFrom: backup.location, files: backup.files };
    },
  };
}

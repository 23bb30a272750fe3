import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { rename } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { backupFiles, ensureDirectory, finishedBackup, removeStalePartial, writeSidecar } from '../../adapters/backup-files/backup-files';
import { archiveUpload, scanArchive, writeArchive } from '../../adapters/backup-files/tar-archive';
import type { Hooks } from '../../adapters/hooks';
import { checkStorageExists, ensureToolImage, runToCompletion, storageSource, STORAGE_TARGET, withToolContainer } from '../../adapters/docker/tool-container';
import { FailureType } from '../../common/failure-types';
import type { StorageBackupRecord } from '../../common/procedure-types';
import type { ClusterConfig, DockerStorageConfig, StorageConfig } from '../../config/schema';
import { activityHooks } from '../activity-context';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';

// Design: the storage is shared by every node (uploads, plugins), so it is backed up and restored
// as a whole, next to the database dump, while the nodes are stopped. The archive is Docker's own
// (getArchive of `<storage>/.`): entries `./…` with modes, owners and mtimes, which putArchive
// unpacks back at the same relative paths.

/**
 * Empties the storage but leaves the mount point itself (it is the volume's root). `-exec rm -rf`
 * rather than `-delete`: Debian's busybox-static (our offline tool image) has no `-delete`.
 */
const EMPTY_STORAGE = ['sh', '-c', `find ${STORAGE_TARGET} -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +`];

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
  async function verifyArchive(backup: StorageBackupRecord, hooks: Hooks): Promise<void> {
    const scan = await scanArchive(backup.location, hooks);
    if (!scan) throw ApplicationFailure.nonRetryable(`storage archive ${backup.location} does not exist`, FailureType.RestoreFailed);
    if (scan.checksum !== backup.checksum) {
      throw ApplicationFailure.nonRetryable(
        `storage archive ${backup.location} is damaged: sha256 ${scan.checksum} instead of the recorded ${backup.checksum}; nothing was changed`,
        FailureType.RestoreFailed,
      );
    }
    if (!scan.complete || scan.strayEntry !== null) {
      const why = scan.strayEntry !== null ? `entry "${scan.strayEntry}" would not land inside the storage` : 'it ends before the end-of-archive marker';
      throw ApplicationFailure.nonRetryable(`storage archive ${backup.location} is not one of ours: ${why}; nothing was changed`, FailureType.RestoreFailed);
    }
  }

  return {
    /**
     * Archives the cluster's shared storage into `<backup.directory>/<cluster>-<label>.storage.tar`
     * with a `.json` sidecar holding the returned record; null when the cluster has no `storage`.
     * Creates (never starts) a helper container from `backup.toolImage` on the storage's Docker
     * host with the storage mounted read-only, streams its archive to the file while hashing, and
     * removes the helper. Pulls the tool image if it is missing. The nodes should be stopped, or
     * the archive may catch files mid-write. Safe to retry: a finished archive of this label is
     * returned as it is; anything else under the label is an interrupted attempt and redone.
     * Heartbeats while streaming.
     */
    async backupStorage(input: { cluster: string; label: string }): Promise<StorageBackupRecord | null> {
      const cluster = getCluster(deps, input.cluster);
      if (!cluster.storage) return null;
      const storage = dockerStorage(input.cluster, cluster.storage);
      const hooks = activityHooks();
      await ensureDirectory(cluster.backup.directory);
      const files = backupFiles(cluster.backup.directory, input.cluster, input.label, '.storage.tar', Context.current().info.attempt);
      const finished = await finishedBackup<StorageBackupRecord>(files, async (file) => (await scanArchive(file, hooks))?.checksum ?? null);
      if (finished) return finished;
      await removeStalePartial(files);

      const docker = deps.docker(storage.dockerHost);
      await ensureToolImage(docker, cluster.backup.toolImage, storage.dockerHost, hooks);
      await checkStorageExists(docker, storage, FailureType.BackupFailed);
      const started = Date.now();
      const spec = { cluster: input.cluster, label: input.label, purpose: 'backup', image: cluster.backup.toolImage, storage, readOnly: true };
      const scan = await withToolContainer(docker, spec, hooks, async (container) => {
        // `/.`: the directory's contents as `./…`, not a `storage/` directory around them.
        const archive = (await container.getArchive({ path: `${STORAGE_TARGET}/.` })) as unknown as Readable;
        return writeArchive(archive, files.partial, hooks);
      });
      if (!scan.complete) {
        throw ApplicationFailure.retryable(`the archive of ${storageSource(storage)} ended early after ${scan.sizeBytes} bytes`, FailureType.BackupFailed);
      }
      await rename(files.partial, files.final);
      const record: StorageBackupRecord = {
        cluster: input.cluster,
        location: files.final,
        sizeBytes: scan.sizeBytes,
        checksum: scan.checksum,
        files: scan.files,
        durationMs: Date.now() - started,
        createdAt: new Date(started).toISOString(),
        source: storageSource(storage),
      };
      await writeSidecar(files, record);
      log.info('storage archived', { cluster: input.cluster, source: record.source, file: files.final, files: scan.files, sizeBytes: scan.sizeBytes, durationMs: record.durationMs });
      return record;
    },

    /**
     * Brings the cluster's storage back to `backup`, byte for byte: files created since are
     * removed, changed ones put back with their modes. Verifies the archive's sha256 first and
     * refuses (RestoreFailed, non-retryable) a damaged or foreign archive before touching anything.
     * Then runs a helper from `backup.toolImage` that empties the storage, and unpacks the archive
     * into it through a second, never-started helper; both are removed afterwards. The nodes must
     * be stopped. Safe to retry and to repeat: every attempt empties and unpacks again, so a
     * half-done attempt is simply redone and a second restore gives the same result.
     */
    async restoreStorage(input: { cluster: string; backup: StorageBackupRecord; label: string }): Promise<StorageRestoreOutcome> {
      const cluster = getCluster(deps, input.cluster);
      const { backup, label } = input;
      if (backup.cluster !== input.cluster) {
        throw ApplicationFailure.nonRetryable(`storage backup of ${backup.cluster} cannot restore ${input.cluster}`, FailureType.RestoreFailed);
      }
      const storage = storageOf(input.cluster, cluster);
      const hooks = activityHooks();
      await verifyArchive(backup, hooks);

      const docker = deps.docker(storage.dockerHost);
      await ensureToolImage(docker, cluster.backup.toolImage, storage.dockerHost, hooks);
      await checkStorageExists(docker, storage, FailureType.RestoreFailed);
      const spec = { cluster: input.cluster, label, image: cluster.backup.toolImage, storage, readOnly: false };
      const emptied = await withToolContainer(docker, { ...spec, purpose: 'clear', cmd: EMPTY_STORAGE }, hooks, (container) => runToCompletion(container, hooks));
      if (emptied.exitCode !== 0) {
        throw ApplicationFailure.retryable(
          `emptying ${storageSource(storage)} exited with ${emptied.exitCode}: ${emptied.output || '(no output)'}`,
          FailureType.RestoreFailed,
        );
      }
      log.info('storage emptied', { cluster: input.cluster, source: storageSource(storage) });
      await withToolContainer(docker, { ...spec, purpose: 'restore' }, hooks, async (container) => {
        // Entries are `./…`: unpacked at STORAGE_TARGET they land at their original relative paths.
        await container.putArchive(archiveUpload(backup.location, hooks), { path: STORAGE_TARGET });
      });
      log.info('storage restored', { cluster: input.cluster, source: storageSource(storage), from: backup.location, files: backup.files });
      return { restoredFrom: backup.location, files: backup.files };
    },
  };
}

import { ApplicationFailure } from '@temporalio/common';
import { Readable } from 'node:stream';
import { FailureType } from '../../../common/failure-types';
import { readText, type BackupStore } from './backup-store';
import { backupKey, thisWorker } from './backup-objects';

/**
 * "The backup store is shared by every worker", checked rather than assumed. The pre-flight and
 * the backup write a small marker object for the run's label; a restore, on whichever worker it
 * lands, first reads the marker of the run that took the backup. A directory that is each
 * worker's own disk at the same path shows no marker on the other worker, and the restore refuses
 * (BackupStoreNotShared) with a message naming the directory and both workers, BEFORE anything is
 * emptied or renamed. On S3 the marker is always visible; the check costs one small GET.
 */

export const markerKey = (clusterName: string, label: string): string => backupKey(clusterName, label, '.marker');

export interface StoreMarker {
  cluster: string;
  label: string;
  worker: string;
  writtenAt: string;
}

/** Idempotent: a retry (on any worker) rewrites it. */
export async function writeMarker(store: BackupStore, clusterName: string, label: string): Promise<StoreMarker> {
  const marker: StoreMarker = { cluster: clusterName, label, worker: thisWorker(), writtenAt: new Date().toISOString() };
  await store.ensureReady();
  await store.put(markerKey(clusterName, label), Readable.from([Buffer.from(`${JSON.stringify(marker)}\n`, 'utf8')]));
  return marker;
}

/**
 * Refuses (BackupStoreNotShared, non-retryable) a restore that cannot see the marker of `label`.
 * `writtenBy` is the worker the backup record says wrote the backup.
 */
export async function ensureMarkerVisible(store: BackupStore, clusterName: string, label: string, writtenBy: string | undefined): Promise<void> {
  const key = markerKey(clusterName, label);
  if ((await readText(store, key)) !== null) return;
  throw ApplicationFailure.nonRetryable(
    `the backup store ${store.description} is not shared by every worker: this worker, ${thisWorker()}, cannot see ${store.locationOf(key)}, ` +
      `which the run with label ${label} wrote${writtenBy ? ` on ${writtenBy}` : ''}. Nothing was emptied or renamed. ` +
      `Mount the same directory on every worker (NFS, a shared volume) or use backup.store kind: s3; to finish this rollback now, run the worker that holds the backup`,
    FailureType.BackupStoreNotShared,
    { store: store.description, marker: key, worker: thisWorker(), writtenBy: writtenBy ?? null },
  );
}

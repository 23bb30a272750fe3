import { ApplicationFailure } from '@temporalio/common';
import { hostname } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileSlug } from '../../../adapters/backup-files/file-slug';
import type { Hooks } from '../../../adapters/hooks';
import { FailureType } from '../../../common/failure-types';
import { readText, type BackupStore } from './backup-store';
import { hashingStream } from './hashing';

/**
 * One backup in the store (a dump, a storage archive) and the JSON sidecar holding its record. The
 * protocol, the same for both and for every store: the object is put whole (all-or-nothing), then
 * the sidecar `<key>.json` is put. The sidecar is written last, so its presence is what says "this
 * backup is complete"; an object without its sidecar is never trusted, and a sidecar whose object
 * no longer has the recorded checksum is not either.
 */

/** `<cluster>-<label><extension>`: flat, so a directory store keeps the file names it always had. */
export function backupKey(clusterName: string, label: string, extension: string): string {
  return `${clusterName}-${fileSlug(label)}${extension}`;
}

export const sidecarKey = (key: string): string => `${key}.json`;

/** The key of an older record without one: its location's file name (a directory store). */
export function keyOfRecord(record: { key?: string | undefined; location: string }): string {
  return record.key ?? path.basename(record.location);
}

/** Who writes: shown when another worker cannot see what this one wrote. */
export function thisWorker(): string {
  return `${hostname()} (pid ${process.pid})`;
}

/** Streams the object through sha256; null when it does not exist. */
export async function checksumInStore(store: BackupStore, key: string, hooks: Hooks = {}): Promise<string | null> {
  const stream = await store.open(key, hooks);
  if (!stream) return null;
  const { transform, result } = hashingStream('bytesHashed', hooks);
  await pipeline(stream, transform, new Writable({ write: (_chunk, _encoding, callback) => callback() }), hooks.signal ? { signal: hooks.signal } : {});
  return result().sha256;
}

export async function writeRecord(store: BackupStore, key: string, record: object): Promise<void> {
  await store.put(sidecarKey(key), Readable.from([Buffer.from(`${JSON.stringify(record, null, 2)}\n`, 'utf8')]));
}

/**
 * The sidecar's record when the object beside it still has the recorded checksum; null when there
 * is no sidecar, no object, or the object changed. `checksumOf` answers null for a missing object.
 */
export async function finishedRecord<R extends { checksum?: string | undefined }>(
  store: BackupStore,
  key: string,
  checksumOf: (key: string) => Promise<string | null>,
): Promise<R | null> {
  const text = await readText(store, sidecarKey(key));
  if (text === null) return null;
  const record = JSON.parse(text) as R;
  const checksum = await checksumOf(key);
  return checksum !== null && checksum === record.checksum ? record : null;
}

/**
 * Refuses (RestoreFailed, non-retryable), before anything is touched, an object that is missing
 * from the store or no longer has its recorded checksum. `what` names it: "dump file", "storage archive".
 */
export async function verifyInStore(store: BackupStore, key: string, checksum: string | undefined, what: string, hooks: Hooks = {}): Promise<void> {
  const location = store.locationOf(key);
  if (!checksum) throw ApplicationFailure.nonRetryable(`backup ${location} has no checksum to verify it by`, FailureType.RestoreFailed);
  const actual = await checksumInStore(store, key, hooks);
  if (actual === null) throw ApplicationFailure.nonRetryable(`${what} ${location} does not exist in the backup store ${store.description}`, FailureType.RestoreFailed);
  if (actual !== checksum) {
    throw ApplicationFailure.nonRetryable(`${what} ${location} is damaged: sha256 ${actual} instead of the recorded ${checksum}; nothing was changed`, FailureType.RestoreFailed);
  }
}

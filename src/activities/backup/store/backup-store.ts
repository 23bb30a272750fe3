import type { Readable } from 'node:stream';
import type { Hooks } from '../../../adapters/hooks';

/**
 * The backup store port: where dumps, storage archives, their record sidecars and the
 * shared-store markers live. Every worker of the task queue must reach the same store, because
 * the restore is an ordinary activity any of them may run (issue 22). Activities speak only this
 * interface; factory.ts is the one place that names an adapter (directory-store.ts, s3-store.ts).
 *
 * Keys are relative, `/`-separated, and name one backup's objects `<cluster>-<label><extension>`
 * (backup-keys.ts). Every write is all-or-nothing: an interrupted `put` leaves no object under
 * the key (a directory writes a partial file and renames it; S3 completes a multipart upload
 * only at the end), so an object that exists is whole. Its checksum is still verified before a
 * restore trusts it.
 */
export interface BackupStore {
  /** For messages and records: `directory /var/backups/nocobase`, `s3://bucket/prefix/`. */
  readonly description: string;
  /** `<description>/<key>`: what a record's `location` shows a person. */
  locationOf(key: string): string;
  /**
   * Streams `source` into the object `key`, hashing on the way: no full copy on the worker's disk
   * (the directory store writes only its own file). Replaces an existing object.
   */
  put(key: string, source: Readable, hooks?: Hooks): Promise<StoredObject>;
  /** The object as a stream, or null when it does not exist. */
  open(key: string, hooks?: Hooks): Promise<Readable | null>;
  /** Size of the object, or null when it does not exist. */
  stat(key: string): Promise<{ sizeBytes: number } | null>;
  /** Every object whose key starts with `prefix` (no order promised). */
  list(prefix: string): Promise<StoredEntry[]>;
  /** Removes the object; an absent one is fine. */
  delete(key: string): Promise<void>;
  /**
   * A path the object can be read at in place, when the store is a directory: lets pg_restore
   * run parallel jobs on a seekable file. Null for an object store.
   */
  localPath(key: string): string | null;
  /** Writes after the store is ready to take them (creates the directory; checks the bucket). */
  ensureReady(): Promise<void>;
}

export interface StoredObject {
  key: string;
  sizeBytes: number;
  /** sha256 (hex) of the bytes as they were streamed into the store. */
  sha256: string;
}

export interface StoredEntry {
  key: string;
  sizeBytes: number;
  modifiedAt: Date;
}

/** Small text objects (sidecars, markers): read whole. */
export async function readText(store: BackupStore, key: string): Promise<string | null> {
  const stream = await store.open(key);
  if (!stream) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

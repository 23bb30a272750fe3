import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ApplicationFailure } from '@temporalio/common';
import { pipeline as pipe, type Readable } from 'node:stream';
import type { Hooks } from '../../../adapters/hooks';
import { FailureType } from '../../../common/failure-types';
import type { S3StoreConfig } from '../../../config/backup-store';
import type { BackupStore, StoredEntry, StoredObject } from './backup-store';
import { hashingStream } from './hashing';
import { s3KeysProvider } from './s3-credentials';

/** Parts in flight per upload: memory is about this many parts, whatever the backup's size. */
const QUEUE_SIZE = 2;

/**
 * The backup store as an S3-compatible bucket (AWS S3, MinIO, SeaweedFS, Ceph RGW): every worker
 * reaches it, so any worker restores and losing the one that took the backup loses nothing. A put
 * is a multipart upload fed straight from pg_dump's or Docker's stream (no copy on the worker's
 * disk), completed only at the end: an interrupted upload leaves no object, and is aborted.
 */
export function s3Store(config: S3StoreConfig, env: NodeJS.ProcessEnv = process.env): BackupStore {
  const keys = s3KeysProvider(config, env);
  const client = new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(keys ? { credentials: keys } : {}),
    // The SDK's default CRC32 on every request: SeaweedFS and older MinIO refuse some of them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const bucket = config.bucket;
  const fullKey = (key: string): string => `${config.prefix}${key}`;
  const description = `s3://${bucket}/${config.prefix}`;
  const encryption = config.serverSideEncryption
    ? { ServerSideEncryption: config.serverSideEncryption, ...(config.kmsKeyId ? { SSEKMSKeyId: config.kmsKeyId } : {}) }
    : {};

  return {
    description,
    locationOf: (key) => `${description}${key}`,
    localPath: () => null,

    async ensureReady(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (error) {
        const status = statusOf(error);
        if (status === 404 || status === 403 || status === 301) {
          throw ApplicationFailure.nonRetryable(
            `backup store ${description}${config.endpoint ? ` at ${config.endpoint}` : ''} answered ${status} for the bucket: create bucket ${bucket} or fix backup.store (bucket, endpoint, region, credentials)`,
            FailureType.Misconfigured,
          );
        }
        throw error;
      }
    },

    async put(key: string, source: Readable, hooks: Hooks = {}): Promise<StoredObject> {
      const { transform, result } = hashingStream('bytesUploaded', hooks);
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: fullKey(key), Body: pipe(source, transform, () => undefined), ...encryption },
        partSize: config.partSizeMiB * 1024 * 1024,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      const abort = () => void upload.abort().catch(() => undefined);
      hooks.signal?.addEventListener('abort', abort, { once: true });
      try {
        await upload.done();
      } finally {
        hooks.signal?.removeEventListener('abort', abort);
      }
      return { key, ...result() };
    },

    async open(key: string): Promise<Readable | null> {
      try {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
        return response.Body as Readable;
      } catch (error) {
        if (statusOf(error) === 404) return null;
        throw error;
      }
    },

    async stat(key: string): Promise<{ sizeBytes: number } | null> {
      try {
        const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
        return { sizeBytes: response.ContentLength ?? 0 };
      } catch (error) {
        if (statusOf(error) === 404) return null;
        throw error;
      }
    },

    async list(prefix: string): Promise<StoredEntry[]> {
      const entries: StoredEntry[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: fullKey(prefix), ...(token ? { ContinuationToken: token } : {}) }));
        for (const object of page.Contents ?? []) {
          if (!object.Key) continue;
          entries.push({ key: object.Key.slice(config.prefix.length), sizeBytes: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return entries;
    },

    async delete(key: string): Promise<void> {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
    },
  };
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

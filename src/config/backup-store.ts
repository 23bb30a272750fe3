import { z } from 'zod';

/**
 * `backup.store:` of a cluster: where the pg_dump file and the storage archive go. Every worker of
 * the task queue must reach it, because the restore is an ordinary activity that any of them may
 * run: an S3-compatible bucket (the production choice), or a directory that is the same shared
 * filesystem on every worker (NFS, a CSI volume; the restore refuses a directory it finds not
 * shared, see activities/backup/store/shared-marker.ts). `backup.directory: /path` is still
 * accepted and means `store: { kind: directory, path: /path }`. Credentials are never written here:
 * `credentials` names a file or environment variables the worker reads.
 */

const absolutePath = z.string().startsWith('/', 'expected an absolute path');

export const directoryStoreSchema = z.strictObject({
  kind: z.literal('directory'),
  /** The same shared directory on every worker; created 0700 when missing. */
  path: absolutePath,
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of an environment variable, such as BACKUP_S3_ACCESS_KEY_ID');

/**
 * Where the worker finds the access key: a file (`access_key_id` / `secret_access_key` lines, or
 * the AWS shared-credentials format's `aws_access_key_id` / `aws_secret_access_key`), or two
 * environment variables. Omitted: the SDK's default chain (AWS_* variables, instance role, …).
 */
export const s3CredentialsSchema = z.union(
  [
    z.strictObject({ file: absolutePath }),
    z.strictObject({ accessKeyIdEnv: envName, secretAccessKeyEnv: envName }),
  ],
  { error: 'expected credentials: { file: /run/secrets/backup-s3 } or { accessKeyIdEnv: NAME, secretAccessKeyEnv: NAME } (never the keys themselves)' },
);

export const s3StoreSchema = z.strictObject({
  kind: z.literal('s3'),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name such as nocobase-backups'),
  /** Keys start with it (no leading slash), e.g. `prod/`; several clusters may share a bucket. */
  prefix: z
    .string()
    .refine((prefix) => !prefix.startsWith('/'), 'expected a key prefix without a leading slash, such as backups/')
    .default(''),
  /** An S3-compatible server's URL (MinIO, SeaweedFS, Ceph RGW); omitted: AWS for `region`. */
  endpoint: z.url({ protocol: /^https?$/, error: 'expected the http(s) URL of the S3 endpoint, such as https://s3.eu-central-1.amazonaws.com' }).optional(),
  region: z.string().min(1).default('us-east-1'),
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`: what most self-hosted servers need. */
  forcePathStyle: z.boolean().default(false),
  credentials: s3CredentialsSchema.optional(),
  /** Server-side encryption asked for on every object: AES256 (keys held by the server) or aws:kms. */
  serverSideEncryption: z.enum(['AES256', 'aws:kms']).optional(),
  /** The KMS key for `aws:kms`; the server's default key when omitted. */
  kmsKeyId: z.string().min(1).optional(),
  /** Multipart part size in MiB (5 to 512): memory per upload is a few parts, never the whole backup. */
  partSizeMiB: z.number().int().min(5, 'expected at least 5 (the S3 minimum part size)').max(512).default(16),
});

export const backupStoreSchema = z.discriminatedUnion('kind', [directoryStoreSchema, s3StoreSchema], {
  error: 'expected kind: s3 (bucket, endpoint, credentials) or kind: directory (path: a directory every worker shares)',
});

export type DirectoryStoreConfig = z.infer<typeof directoryStoreSchema>;
export type S3StoreConfig = z.infer<typeof s3StoreSchema>;
export type BackupStoreConfig = z.infer<typeof backupStoreSchema>;

/** `backup.directory` and `backup.store` are two spellings of one thing: exactly one of them. */
export const ONE_STORE_PROBLEM =
  'expected exactly one of backup.store (kind: s3 or kind: directory, shared by every worker) and backup.directory (a directory shared by every worker); move directory into store: { kind: directory, path: … } or drop it';

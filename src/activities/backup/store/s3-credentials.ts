import { readFile } from 'node:fs/promises';
import type { S3StoreConfig } from '../../../config/backup-store';

export interface S3Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The access key of `backup.store.credentials`, read when a request needs it (a rotated file is
 * picked up without restarting the worker): from a file of `name = value` lines (`access_key_id`
 * and `secret_access_key`, with or without the `aws_` of AWS's shared-credentials file; `[section]`
 * lines and comments ignored), or from two environment variables. Undefined when the config names
 * none: the SDK's own chain (AWS_* variables, instance role) applies. Never in config or inputs.
 */
export function s3KeysProvider(config: S3StoreConfig, env: NodeJS.ProcessEnv = process.env): (() => Promise<S3Keys>) | undefined {
  const credentials = config.credentials;
  if (!credentials) return undefined;
  if ('file' in credentials) {
    return async () => {
      const text = await readFile(credentials.file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new Error(`cannot read the S3 credentials file ${credentials.file} (backup.store.credentials.file): ${error.code ?? error.message}`);
      });
      const values = new Map<string, string>();
      for (const line of text.split('\n')) {
        const match = /^\s*(?:aws_)?(access_key_id|secret_access_key)\s*[=:]\s*(\S+)\s*$/i.exec(line);
        if (match?.[1] && match[2]) values.set(match[1].toLowerCase(), match[2]);
      }
      const accessKeyId = values.get('access_key_id');
      const secretAccessKey = values.get('secret_access_key');
      if (!accessKeyId || !secretAccessKey) {
        throw new Error(`the S3 credentials file ${credentials.file} has no access_key_id and secret_access_key lines (name = value)`);
      }
      return { accessKeyId, secretAccessKey };
    };
  }
  return () => {
    const accessKeyId = env[credentials.accessKeyIdEnv];
    const secretAccessKey = env[credentials.secretAccessKeyEnv];
    if (!accessKeyId || !secretAccessKey) {
      const missing = [credentials.accessKeyIdEnv, credentials.secretAccessKeyEnv].filter((name) => !env[name]);
      return Promise.reject(new Error(`the worker's environment has no ${missing.join(' and ')} (backup.store.credentials)`));
    }
    return Promise.resolve({ accessKeyId, secretAccessKey });
  };
}

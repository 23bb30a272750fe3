import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BACKUP_FILE_MODE, ensureDirectory, fsyncFile } from '../../../adapters/backup-files/backup-files';
import type { Hooks } from '../../../adapters/hooks';
import type { DirectoryStoreConfig } from '../../../config/backup-store';
import type { BackupStore, StoredEntry, StoredObject } from './backup-store';
import { hashingStream } from './hashing';

/**
 * The backup store as a directory (`backup.store.kind: directory`, or the older `backup.directory`).
 * It must be one shared filesystem on every worker (NFS, a CSI volume mounted at the same path):
 * a directory on one worker's own disk loses the only pre-upgrade copy with that worker, and the
 * restore refuses it (shared-marker.ts). Files are 0600 in a 0700 directory: a backup is the
 * whole database and every upload.
 */
export function directoryStore(config: DirectoryStoreConfig): BackupStore {
  const root = path.resolve(config.path);
  const fileOf = (key: string): string => {
    const file = path.resolve(root, key);
    if (!file.startsWith(`${root}${path.sep}`)) throw new Error(`backup key ${JSON.stringify(key)} is outside ${root}`);
    return file;
  };

  return {
    description: `directory ${root}`,
    locationOf: (key) => fileOf(key),
    localPath: (key) => fileOf(key),
    ensureReady: () => ensureDirectory(root),

    async put(key: string, source: Readable, hooks: Hooks = {}): Promise<StoredObject> {
      const final = fileOf(key);
      await ensureDirectory(path.dirname(final));
      await removePartials(final);
      // Per call: an orphaned writer of an earlier attempt (its worker died) must not share the file.
      const partial = `${final}.partial-${randomBytes(4).toString('hex')}`;
      const { transform, result } = hashingStream('bytesWritten', hooks);
      try {
        await pipeline(source, transform, createWriteStream(partial, { mode: BACKUP_FILE_MODE }), hooks.signal ? { signal: hooks.signal } : {});
        await fsyncFile(partial);
        await rename(partial, final);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
      return { key, ...result() };
    },

    async open(key: string): Promise<Readable | null> {
      const file = fileOf(key);
      if ((await statOrNull(file)) === null) return null;
      return createReadStream(file);
    },

    async stat(key: string): Promise<{ sizeBytes: number } | null> {
      const found = await statOrNull(fileOf(key));
      return found ? { sizeBytes: found.size } : null;
    },

    async list(prefix: string): Promise<StoredEntry[]> {
      const directory = path.dirname(fileOf(`${prefix}x`));
      const namePrefix = path.basename(fileOf(`${prefix}x`)).slice(0, -1);
      const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [] as string[];
        throw error;
      });
      const entries: StoredEntry[] = [];
      for (const name of names) {
        if (!name.startsWith(namePrefix) || /\.partial-[0-9a-f]+$|\.tmp$/.test(name)) continue;
        const found = await statOrNull(path.join(directory, name));
        if (!found?.isFile()) continue;
        entries.push({ key: path.relative(root, path.join(directory, name)).split(path.sep).join('/'), sizeBytes: found.size, modifiedAt: found.mtime });
      }
      return entries;
    },

    async delete(key: string): Promise<void> {
      await rm(fileOf(key), { force: true });
    },
  };
}

async function statOrNull(file: string) {
  try {
    return await stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Partial files of earlier attempts at this key (an orphan writing one keeps only an unlinked inode). */
async function removePartials(final: string): Promise<void> {
  const directory = path.dirname(final);
  const prefix = `${path.basename(final)}.partial`;
  const names = await readdir(directory).catch(() => [] as string[]);
  await Promise.all(names.filter((name) => name.startsWith(prefix)).map((name) => rm(path.join(directory, name), { force: true })));
}

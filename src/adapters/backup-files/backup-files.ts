import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileSlug } from './file-slug';

/**
 * A backup file in `backup.directory` on the worker's machine (a database dump, a storage
 * archive) and the JSON sidecar that holds its record. The protocol, the same for both: write to a
 * per-attempt partial file, fsync, rename to the final name, then write the sidecar atomically.
 * The sidecar is written last, so its presence is what says "this backup is complete"; a file
 * without its sidecar is never trusted.
 */
export interface BackupFiles {
  final: string;
  partial: string;
  sidecar: string;
}

/**
 * `<directory>/<cluster>-<label><extension>`. The partial file is per attempt: a pg_dump orphaned
 * by a worker that died mid-backup may still be writing its own file, and must not scribble over
 * the retry's.
 */
export function backupFiles(directory: string, clusterName: string, label: string, extension: string, attempt = 1): BackupFiles {
  const final = path.resolve(directory, `${clusterName}-${fileSlug(label)}${extension}`);
  return { final, partial: `${final}.partial-${attempt}`, sidecar: `${final}.json` };
}

/**
 * A backup holds the whole database and every uploaded file: its directory is the worker's alone
 * (0700, also when it already existed with a laxer mode), and each file in it 0600.
 */
export const BACKUP_DIRECTORY_MODE = 0o700;
export const BACKUP_FILE_MODE = 0o600;

export async function ensureDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: BACKUP_DIRECTORY_MODE });
  await chmod(directory, BACKUP_DIRECTORY_MODE);
}

/** The file's size, or null when it does not exist. */
export async function fileSize(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Removes every attempt's partial file of this backup (an orphan writing one keeps an unlinked inode). */
export async function removeStalePartial(files: BackupFiles): Promise<void> {
  const prefix = `${path.basename(files.final)}.partial`;
  const directory = path.dirname(files.final);
  const entries = await readdir(directory).catch(() => [] as string[]);
  await Promise.all(entries.filter((name) => name.startsWith(prefix)).map((name) => rm(path.join(directory, name), { force: true })));
}

/**
 * Flushes a written file to disk before it is renamed into place, and makes it the worker's alone
 * (pg_dump, or a tool container running it, creates its file with its own umask).
 */
export async function fsyncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.chmod(BACKUP_FILE_MODE);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Written last, fsynced and renamed into place: a crash leaves either no sidecar or a whole one. */
export async function writeSidecar(files: BackupFiles, record: object): Promise<void> {
  const temporary = `${files.sidecar}.tmp`;
  const handle = await open(temporary, 'w', BACKUP_FILE_MODE);
  try {
    await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, files.sidecar);
}

/**
 * The sidecar's record when the backup file beside it still has the recorded checksum; null when
 * there is no sidecar, no file, or the file changed. `checksumOf` answers null for a missing file.
 */
export async function finishedBackup<R extends { checksum?: string | undefined }>(
  files: BackupFiles,
  checksumOf: (file: string) => Promise<string | null>,
): Promise<R | null> {
  let record: R;
  try {
    record = JSON.parse(await readFile(files.sidecar, 'utf8')) as R;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const checksum = await checksumOf(files.final);
  return checksum !== null && checksum === record.checksum ? record : null;
}

import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * The files a load balancer reads when it (re)starts or reloads, as the worker writes them
 * (HAProxy's map and server state files, Nginx's include): what a procedure set must be here, so
 * a reload or a restart keeps it. Shared by the adapters: one lock and one atomic write for all.
 */

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` for `file` after every earlier call for the same file has settled, in this process
 * (parallel activities, one per node) and across processes (two workers, or two clusters' procedures
 * behind one HAProxy, rewrite the same map file): a read-change-write must not overwrite another's
 * change with an older snapshot.
 */
export function serialized<T>(file: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const locked = () => withLockFile(file, work);
  const next = previous.then(locked, locked);
  const settled = next.catch(() => undefined);
  queues.set(file, settled);
  void settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return next;
}

/** A lock older than this was left by a process that died while holding it: a write takes milliseconds. */
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 60_000;

/**
 * Holds `<file>.lock` (created exclusively beside the file, as the temporary files are) around
 * `work`. A directory the worker cannot write fails here with the same error the write would give.
 */
async function withLockFile<T>(file: string, work: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await fs.open(lock, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await fs.stat(lock).then((stat) => Date.now() - stat.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) await fs.rm(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} has been held for ${Math.round(age / 1000)} s by another process; remove it if no worker is writing ${file}`);
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  try {
    return await work();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

/** The file's text, or null when it does not exist. */
export async function readOptional(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Replaces the file in one rename, so HAProxy reloading at that moment reads the old or the new
 * file, never half of one. Keeps the mode of the file it replaces (an operator's 0644 map stays
 * readable by HAProxy's user).
 */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const mode = await fs.stat(file).then((stat) => stat.mode & 0o777, () => 0o644);
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await fs.writeFile(temporary, text, { mode });
    await fs.chmod(temporary, mode);
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

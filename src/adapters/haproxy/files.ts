import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * The files HAProxy reads when it (re)starts, as the worker writes them. A reload (certificate
 * renewal, config push) re-reads them, so what a procedure set in memory must also be here.
 */

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` for `file` after every earlier call for the same file in this process has settled:
 * parallel activities (one per node) rewrite the same file, and a read-change-write must not
 * overwrite another's change with an older snapshot.
 */
export function serialized<T>(file: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  queues.set(file, settled);
  void settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return next;
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

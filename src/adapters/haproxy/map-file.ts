import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import { readOptional, serialized, writeAtomically } from '../local-files';

/**
 * The maintenance switch as HAProxy reads it on a reload: a map file of `<key> <value>` lines
 * (several clusters may share one file, and an operator's comments are kept). The runtime API
 * changes only HAProxy's memory (backend.ts `setMapEntry`); this is the other half.
 */

/** The value of `key` in the map file, or null when the key (or the file) is absent. */
export async function readMapFileEntry(file: string, key: string): Promise<string | null> {
  const text = await readOptional(file);
  if (text === null) return null;
  for (const line of text.split('\n')) {
    const [first, second] = line.trim().split(/\s+/);
    if (first === key) return second ?? '';
  }
  return null;
}

/**
 * Sets `key` to `value` in the map file, replacing the key's line or appending one. Idempotent:
 * a file that already says so is not rewritten. A file the worker cannot write is a
 * configuration mistake (the worker does not see HAProxy's file): LoadBalancerError, not retried.
 */
export function writeMapFileEntry(file: string, key: string, value: string): Promise<{ changed: boolean }> {
  const change = async () => {
    const text = (await readOptional(file)) ?? '';
      const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
      let found = false;
      let changed = false;
      const updated = lines.flatMap((line) => {
        const [first, second] = line.trim().split(/\s+/);
        if (first !== key) return [line];
        if (found) {
          changed = true; // a duplicate would shadow nothing but confuse a reader: dropped
          return [];
        }
        found = true;
        if (second === value) return [line];
        changed = true;
        return [`${key} ${value}`];
      });
      if (!found) {
        updated.push(`${key} ${value}`);
        changed = true;
      }
    if (changed) await writeAtomically(file, `${updated.join('\n')}\n`);
    return { changed };
  };
  // The lock beside the file fails first when the directory is wrong: the same configuration mistake.
  return serialized(file, change).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT' || code === 'EROFS' || code === 'ENOTDIR') {
        throw ApplicationFailure.nonRetryable(
          `cannot write the maintenance map file ${file} (${code}): a reload would lose the maintenance switch; ` +
            'give the worker write access to HAProxy\'s map file, or set loadBalancer.maintenanceMapFile to where the worker sees it',
          FailureType.LoadBalancerError,
        );
      }
      throw error;
  });
}

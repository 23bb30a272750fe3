import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The Temporal CLI the stack built (or found on PATH). @temporalio/testing would otherwise try to
 * download its own binary, which this network does not allow.
 */
export function temporalBinary(): string {
  const candidates = [
    process.env.TEMPORAL_BIN,
    join(process.env.NOCOBASE_MAINTENANCE_CACHE ?? join(homedir(), '.cache', 'nocobase-maintenance'), 'bin', 'temporal'),
  ].filter((path): path is string => !!path);
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`no Temporal CLI binary at ${candidates.join(' or ')}: run \`npm run stack:up\` first`);
  return found;
}

import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import { HaproxyCommandError, type HaproxyRuntime } from './runtime';

/**
 * The commands the procedures send to HAProxy's runtime API, and the one place that says what
 * its answers mean: a refused command names a backend, server or map HAProxy lacks — a
 * configuration mistake that no retry cures (LoadBalancerError, non-retryable); a socket that
 * does not answer is left retryable.
 */

/** HAProxy's administrative server states: `ready` serves, `drain` finishes what it has, `maint` takes nothing. */
export type ServerAdminState = 'ready' | 'drain' | 'maint';

export interface ServerStatus {
  server: string;
  /** HAProxy's status column: UP, DOWN, MAINT, DRAIN, "UP 1/2", ... */
  status: string;
  /** Requests the server is handling right now (HAProxy's `scur`). */
  sessions: number;
}

async function run(api: HaproxyRuntime, line: string): Promise<void> {
  try {
    await api.commandExpectingSilence(line);
  } catch (error) {
    if (error instanceof HaproxyCommandError) throw ApplicationFailure.nonRetryable(error.message, FailureType.LoadBalancerError);
    throw error;
  }
}

/** `set server <backend>/<server> state <state>`: idempotent, a server keeps a state it already has. */
export async function setServerState(api: HaproxyRuntime, backend: string, server: string, state: ServerAdminState): Promise<void> {
  await run(api, `set server ${backend}/${server} state ${state}`);
}

/** The servers' rows of `show stat` in `backend`, in the order asked. */
export async function serverStatuses(api: HaproxyRuntime, backend: string, servers: string[]): Promise<ServerStatus[]> {
  const rows = await api.stats();
  return servers.map((server) => {
    const row = rows.find((candidate) => candidate.pxname === backend && candidate.svname === server);
    if (!row) throw ApplicationFailure.nonRetryable(`load balancer has no server ${backend}/${server}`, FailureType.LoadBalancerError);
    return { server, status: row.status ?? '', sessions: Number(row.scur ?? 0) };
  });
}

/** The value of `key` in the in-memory map `map`, or null when the map has no such key. */
export async function mapEntry(api: HaproxyRuntime, map: string, key: string): Promise<string | null> {
  return (await mapEntries(api, map)).get(key) ?? null;
}

/**
 * Sets `key` to `value` in the in-memory map `map` (`set` when the key is there, `add` when not),
 * which is how a frontend's `map()` lookup switches without a reload. A reload re-reads the map
 * file, so a caller that wants the value to last writes the file too (map-file.ts).
 */
export async function setMapEntry(api: HaproxyRuntime, map: string, key: string, value: string): Promise<void> {
  const present = (await mapEntries(api, map)).has(key);
  await run(api, `${present ? 'set' : 'add'} map ${map} ${key} ${value}`);
}

/** `show map <map>`: one `<id> <key> <value>` line per entry. */
async function mapEntries(api: HaproxyRuntime, map: string): Promise<Map<string, string>> {
  const text = await api.command(`show map ${map}`);
  if (/^Unknown map identifier/im.test(text)) {
    throw ApplicationFailure.nonRetryable(`load balancer has no map ${map}`, FailureType.LoadBalancerError);
  }
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, key, value] = line.trim().split(/\s+/);
    if (key !== undefined && !entries.has(key)) entries.set(key, value ?? '');
  }
  return entries;
}

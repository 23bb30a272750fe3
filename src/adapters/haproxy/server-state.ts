import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import type { ServerAdminState } from './backend';
import { readOptional, serialized, writeAtomically } from '../local-files';
import type { HaproxyRuntime } from './runtime';

/**
 * Server states that survive a reload, the HAProxy way: `show servers state` written to the file
 * that the config loads at start (`server-state-file` / `server-state-file-name` with
 * `load-server-state-from-file`). HAProxy then re-applies each server's administrative state over
 * the config's (a `disabled` server that was set ready stays ready, and the other way round).
 * Usually an operator's reload script dumps the file just before reloading; here the procedure
 * writes it after every change it makes, so a reload by anyone, at any time, keeps its states.
 */

/** One server's row of `show servers state`, keyed by the header's column names. */
export type ServerStateRow = Record<string, string>;

// srv_admin_state bits (HAProxy's enum srv_admin): forced/inherited/resolution maintenance, and
// forced/inherited drain. CMAINT (0x04, "disabled" in the config) alone is not maintenance once a
// `set server ... state ready` has cleared FMAINT: that is exactly the state a reload must keep.
const MAINT_BITS = 0x01 | 0x02 | 0x20;
const DRAIN_BITS = 0x08 | 0x10;

/** The administrative state a `srv_admin_state` value means. */
export function adminStateOf(bits: number): ServerAdminState {
  if (bits & MAINT_BITS) return 'maint';
  if (bits & DRAIN_BITS) return 'drain';
  return 'ready';
}

/** Parses `show servers state` (also the file's format): the version line, the header, the rows. */
export function parseServerStates(text: string): { version: string; header: string; rows: ServerStateRow[] } | null {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const [version, header, ...rows] = lines;
  if (version === undefined || header === undefined || !/^\d+$/.test(version.trim()) || !header.startsWith('# ')) return null;
  const columns = header.slice(2).trim().split(/\s+/);
  return {
    version: version.trim(),
    header,
    rows: rows.filter((row) => !row.startsWith('#')).map((row) => {
      const cells = row.trim().split(/\s+/);
      return Object.fromEntries(columns.map((column, index) => [column, cells[index] ?? '']));
    }),
  };
}

async function dump(api: HaproxyRuntime, backend: string): Promise<{ text: string; rows: ServerStateRow[] }> {
  const text = await api.command(`show servers state ${backend}`);
  const parsed = parseServerStates(text);
  if (!parsed) {
    if (/Can't find backend/i.test(text)) throw ApplicationFailure.nonRetryable(`load balancer has no backend ${backend}`, FailureType.LoadBalancerError);
    throw new Error(`HAProxy answered "show servers state ${backend}" with: ${text.trim().slice(0, 200)}`);
  }
  return { text, rows: parsed.rows };
}

/** The administrative state of every server of `backend`, by server name, as HAProxy has it now. */
export async function runtimeAdminStates(api: HaproxyRuntime, backend: string): Promise<Map<string, ServerAdminState>> {
  const { rows } = await dump(api, backend);
  return new Map(rows.map((row) => [row.srv_name ?? '', adminStateOf(Number(row.srv_admin_state))]));
}

/** The administrative states `file` holds for `backend`'s servers (what a reload would apply); empty when absent. */
export async function fileAdminStates(file: string, backend: string): Promise<Map<string, ServerAdminState>> {
  const parsed = parseServerStates((await readOptional(file)) ?? '');
  const rows = parsed?.rows.filter((row) => row.be_name === backend) ?? [];
  return new Map(rows.map((row) => [row.srv_name ?? '', adminStateOf(Number(row.srv_admin_state))]));
}

/**
 * Writes HAProxy's current states of `backend`'s servers into `file`, keeping other backends' rows
 * (one global `server-state-file` may hold several). Safe to repeat: each write is a fresh
 * snapshot taken after the caller's change, serialized per file in this process; the snapshot is
 * taken again after the write and the file rewritten if a change from elsewhere slipped between.
 */
export function persistServerStates(api: HaproxyRuntime, backend: string, file: string): Promise<void> {
  return serialized(file, async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { text } = await dump(api, backend);
      const current = parseServerStates(text)!;
      const existing = parseServerStates((await readOptional(file).catch(writeRefused(file))) ?? '');
      const others = existing && existing.header === current.header ? existing.rows.filter((row) => row.be_name !== backend) : [];
      const columns = current.header.slice(2).trim().split(/\s+/);
      const line = (row: ServerStateRow) => columns.map((column) => row[column] ?? '-').join(' ');
      const body = [current.version, current.header, ...others.map(line), ...current.rows.map(line)].join('\n');
      await writeAtomically(file, `${body}\n`).catch(writeRefused(file));
      // Compared by administrative state: the rows' timers change every second anyway.
      const after = (await dump(api, backend)).rows;
      if (sameAdminStates(current.rows, after)) return;
    }
  });
}

function sameAdminStates(before: ServerStateRow[], after: ServerStateRow[]): boolean {
  const key = (rows: ServerStateRow[]) => rows.map((row) => `${row.srv_name}=${row.srv_admin_state}`).join(',');
  return key(before) === key(after);
}

function writeRefused(file: string): (error: unknown) => never {
  return (error) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT' || code === 'EROFS' || code === 'ENOTDIR') {
      throw ApplicationFailure.nonRetryable(
        `cannot write the server state file ${file} (${code}): a reload would lose the servers' states; ` +
          'give the worker write access to it, or correct loadBalancer.serverStateFile',
        FailureType.LoadBalancerError,
      );
    }
    throw error;
  };
}

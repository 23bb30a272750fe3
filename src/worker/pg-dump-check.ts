import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Pool } from 'pg';
import { programPath } from '../adapters/postgres/pg-tools';
import { ConfigError } from '../config/config-error';
import type { MaintenanceConfig } from '../config/schema';

const run = promisify(execFile);

/** `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → 15; undefined when it says no version. */
export function pgDumpMajor(versionOutput: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(versionOutput);
  return match ? Number(match[1]) : undefined;
}

/** 150004 → 15 (10 and later: the major is the number divided by 10000). */
export function serverMajor(serverVersionNum: number): number {
  return Math.floor(serverVersionNum / 10_000);
}

/**
 * The verdict for one cluster: pg_dump refuses to dump a server of a newer major version ("server
 * version mismatch"), and would say so only at the backup, after every node was stopped.
 */
export function pgDumpVerdict(cluster: string, pgDump: { path: string; major: number; version: string }, server: { major: number; where: string }): string | undefined {
  if (pgDump.major >= server.major) return undefined;
  return `cluster ${cluster}: ${pgDump.path} is ${pgDump.version.trim()}, older than the database server at ${server.where} (PostgreSQL ${server.major}): pg_dump refuses to dump a newer server, so every backup would fail after the nodes were stopped. Give the worker pg_dump ${server.major} or newer (the image: postgresql-client-${server.major}; or name its directory in backup.pgBin)`;
}

/**
 * At worker start, for each cluster backed up with pg_dump: pg_dump runs, and its major version is
 * no older than the server's. A missing or too old pg_dump stops the worker (ConfigError, exit 78)
 * with what to install; a server that cannot be reached now only warns (the pre-flight checks again).
 */
export async function checkPgDump(config: MaintenanceConfig, database: (cluster: string) => Pool, searchPath: string | undefined = process.env.PATH): Promise<string[]> {
  const warnings: string[] = [];
  const problems: string[] = [];
  const versions = new Map<string, string | Error>();
  for (const [name, cluster] of Object.entries(config.clusters)) {
    if (cluster.backup.method !== 'pg_dump') continue;
    const program = programPath('pg_dump', cluster.backup.pgBin);
    if (!versions.has(program)) {
      versions.set(program, await run(program, ['--version'], { env: { ...(searchPath ? { PATH: searchPath } : {}), LC_ALL: 'C' }, timeout: 10_000 }).then(({ stdout }) => stdout, (error: Error) => error));
    }
    const output = versions.get(program)!;
    if (output instanceof Error) {
      problems.push(`cluster ${name}: backup.method is pg_dump, but ${program} does not run (${(output as NodeJS.ErrnoException).code ?? output.message}): install the PostgreSQL client in the worker's image or host, or name its directory in backup.pgBin`);
      continue;
    }
    const major = pgDumpMajor(output);
    if (major === undefined) {
      problems.push(`cluster ${name}: ${program} --version said "${output.trim()}", not a PostgreSQL version`);
      continue;
    }
    const where = `${cluster.database.host}:${cluster.database.port}`;
    const num = await database(name).query<{ server_version_num: string }>('SHOW server_version_num').then(({ rows }) => Number(rows[0]?.server_version_num ?? 0), (error: Error) => error);
    if (num instanceof Error) {
      warnings.push(`cluster ${name}: the database server at ${where} cannot be reached now (${num.message}); pg_dump ${major} is checked against it at each pre-flight`);
      continue;
    }
    const verdict = pgDumpVerdict(name, { path: program, major, version: output }, { major: serverMajor(num), where });
    if (verdict) problems.push(verdict);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'), problems);
  return warnings;
}

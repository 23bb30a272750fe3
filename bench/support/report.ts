/**
 * What every bench prints and keeps: the machine's facts, its tables as Markdown, and a copy in
 * `bench/results/<figure>-<date>.md` (commit-worthy; CI keeps it as an artifact). Benches measure,
 * they never fail on a timing: a figure over its target says so in the table.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);
export const RESULTS_DIR = path.join(__dirname, '..', 'results');

/** A Markdown table; every row as long as the header. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => `| ${widths.map((width, column) => (cells[column] ?? '').padEnd(width)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export const seconds = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);
export const percent = (share: number): string => `${(share * 100).toFixed(1)} %`;
export const ratio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–');
export const mebibytes = (bytes: number | undefined): string => (bytes === undefined ? '–' : `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 24 ? 1 : 0)} MiB`);

async function firstLine(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { timeout: 10_000 });
    return stdout.trim().split('\n')[0] ?? '?';
  } catch {
    return 'not found';
  }
}

/** Cores, RAM, load, and the versions of what the figures depend on. */
export async function machineFacts(): Promise<string> {
  const cpus = os.cpus();
  let postgres = 'unreachable';
  const url = process.env.PG_ADMIN_URL ?? process.env.STANDIN_DATABASE_URL;
  if (url) {
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      postgres = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
    } catch {
      // left as unreachable
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const pgBin = process.env.PGBIN;
  const facts: [string, string][] = [
    ['cores', `${cpus.length} × ${cpus[0]?.model.trim() ?? '?'}`],
    ['RAM', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB (${(os.freemem() / 2 ** 30).toFixed(1)} GiB free at start)`],
    ['load average at start', os.loadavg().map((load) => load.toFixed(2)).join(' ')],
    ['kernel', `${os.type()} ${os.release()} ${os.arch()}`],
    ['node', process.version],
    ['PostgreSQL server', postgres],
    ['pg_dump', await firstLine(pgBin ? path.join(pgBin, 'pg_dump') : 'pg_dump', ['--version'])],
    ['docker', await firstLine('docker', ['version', '--format', 'client {{.Client.Version}}, server {{.Server.Version}}'])],
    ['temporal CLI (dev server)', await firstLine(process.env.TEMPORAL_BIN ?? 'temporal', ['--version'])],
  ];
  return table(['machine', ''], facts.map(([name, value]) => [name, value]));
}

/**
 * Prints the report and writes it to `bench/results/<figure>-<YYYY-MM-DD>.md` (a rerun the same
 * day replaces it). Returns the file's path.
 */
export function writeResults(figure: string, title: string, sections: string[]): string {
  const started = new Date();
  const body = [`# ${title}`, '', `Measured ${started.toISOString()} on this machine:`, '', ...sections.flatMap((section) => [section, ''])].join('\n');
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${figure}-${started.toISOString().slice(0, 10)}.md`);
  writeFileSync(file, body);
  console.log(`\n${body}\nwritten to ${path.relative(process.cwd(), file)}`);
  return file;
}

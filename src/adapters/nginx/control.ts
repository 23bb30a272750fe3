import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/**
 * Nginx's side of the traffic switch besides its include: the configured commands (test, reload,
 * process list) and the status location that says which include the serving workers read.
 */

export interface CommandResult {
  ok: boolean;
  output: string;
}

const COMMAND_TIMEOUT_MS = 30_000;

/** Runs an argv without a shell; never throws: a command that cannot start is `ok: false` with why. */
export function runCommand(argv: readonly string[]): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.resolve({ ok: false, output: 'empty command' });
  return new Promise((resolve) => {
    execFile(file, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      resolve({ ok: !error, output: error && output === '' ? error.message : output });
    });
  });
}

/**
 * The generation the status location answers, or null when Nginx does not answer (down, or
 * restarting). A fresh connection per look (no keep-alive): a kept connection could still be
 * held by an old worker, which answers the old generation.
 */
export function servedGeneration(url: string, timeoutMs = 3_000): Promise<number | null> {
  return new Promise((resolve) => {
    const client = url.startsWith('https:') ? https : http;
    const request = client.get(url, { agent: false, timeout: timeoutMs, headers: { connection: 'close' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(response.statusCode === 200 && /^\s*\d+\s*$/.test(body) ? Number(body.trim()) : null));
      response.on('error', () => resolve(null));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve(null));
  });
}

const SHUTTING_DOWN = /^nginx: worker process is shutting down/;

/**
 * How many Nginx worker processes are still finishing requests of an older configuration (after
 * a graceful reload the old workers take no new connection and exit when their last one ends).
 * From `processesCommand`'s output (one process title a line), else from this host's /proc.
 */
export async function shuttingDownWorkers(processesCommand?: readonly string[]): Promise<number> {
  if (processesCommand) {
    const result = await runCommand(processesCommand);
    if (!result.ok) throw new Error(`${processesCommand.join(' ')} failed: ${result.output}`);
    return result.output.split('\n').filter((line) => SHUTTING_DOWN.test(line.trim())).length;
  }
  let count = 0;
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const title = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (SHUTTING_DOWN.test(title.replace(/\0/g, ' '))) count++;
  }
  return count;
}

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

/** What the status location answers: the include's generation and, when it says so, the answering worker's pid. */
export interface Served {
  generation: number;
  pid?: number;
}

/**
 * What the status location answers (`<generation>` or `<generation> <worker pid>`), or null when
 * Nginx does not answer (down, or restarting). A fresh connection per look (no keep-alive): a
 * kept connection could still be held by an old worker, which answers the old generation.
 */
export function servedBy(url: string, timeoutMs = 3_000): Promise<Served | null> {
  return new Promise((resolve) => {
    const client = url.startsWith('https:') ? https : http;
    const request = client.get(url, { agent: false, timeout: timeoutMs, headers: { connection: 'close' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        const match = /^\s*(\d+)(?:\s+(\d+))?\s*$/.exec(body);
        if (response.statusCode !== 200 || !match) return resolve(null);
        resolve({ generation: Number(match[1]), ...(match[2] ? { pid: Number(match[2]) } : {}) });
      });
      response.on('error', () => resolve(null));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve(null));
  });
}

/** The generation alone (null: no answer). */
export async function servedGeneration(url: string): Promise<number | null> {
  return (await servedBy(url))?.generation ?? null;
}

export interface NginxWorker {
  pid: number;
  ppid: number;
  /** False once the worker has taken the master's graceful-shutdown order: it accepts nothing new. */
  accepting: boolean;
}

const WORKER = /^nginx: worker process(?<closing> is shutting down)?\s*$/;

/**
 * Nginx's worker processes: from `processesCommand`'s output (`<pid> <ppid> <title>` a line, as
 * `ps -e -o pid=,ppid=,args=` prints), else from this host's /proc. After a graceful reload the
 * master starts new workers, then tells the old ones to stop accepting; they finish the requests
 * they have, titled "worker process is shutting down", and exit.
 */
export async function nginxWorkers(processesCommand?: readonly string[]): Promise<NginxWorker[]> {
  const workers: NginxWorker[] = [];
  const add = (pid: number, ppid: number, title: string) => {
    const match = WORKER.exec(title.trim());
    if (match) workers.push({ pid, ppid, accepting: !match.groups?.closing });
  };
  if (processesCommand) {
    const result = await runCommand(processesCommand);
    if (!result.ok) throw new Error(`${processesCommand.join(' ')} failed: ${result.output}`);
    for (const line of result.output.split('\n')) {
      const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
      if (match) add(Number(match[1]), Number(match[2]), match[3] ?? '');
    }
    return workers;
  }
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [title, stat] = await Promise.all([fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''), fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')]);
    if (!title.startsWith('nginx: worker')) continue;
    // stat: "pid (comm) state ppid …"; comm may hold spaces, so count from the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    add(Number(entry), ppid, title.replace(/\0/g, ' '));
  }
  return workers;
}

/**
 * The workers of the Nginx whose worker `servedBy` answered: those with the same master. Another
 * Nginx on the host is left out; without the pid (a status location answering the generation
 * alone) every Nginx worker counts, which errs on the side of waiting.
 */
export function workersOf(workers: NginxWorker[], answeringPid: number | undefined): NginxWorker[] {
  const master = workers.find((worker) => worker.pid === answeringPid)?.ppid;
  return master === undefined ? workers : workers.filter((worker) => worker.ppid === master);
}

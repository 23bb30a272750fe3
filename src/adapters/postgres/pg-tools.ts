import { ApplicationFailure, Context } from '@temporalio/activity';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FailureType } from '../../common/failure-types';
import type { DatabaseConfig } from '../../config/schema';

/**
 * Runs pg_dump and pg_restore as child processes. The password reaches them only through the
 * child's environment (PGPASSWORD): argv is visible to every user of the host in `ps`, and the
 * command line is what ends up in logs and failure messages.
 */

/** stderr lines that no retry will cure: wrong credentials, missing objects, an old client. */
const PERMANENT_STDERR =
  /password authentication failed|no password supplied|does not exist|permission denied|must be owner|server version mismatch|unsupported version|not a valid archive|input file|did not find magic string|could not open input file|No space left on device|invalid|syntax error/i;

const HEARTBEAT_MS = 2_000;
const STDERR_TAIL_LINES = 12;

export interface PgToolRun {
  /** The program's name (pg_dump, pg_restore), resolved against `pgBin` or the PATH. */
  program: 'pg_dump' | 'pg_restore';
  args: string[];
  db: DatabaseConfig;
  password: string;
  /** Sent as heartbeat details every few seconds while the program runs. */
  progress?: () => Promise<Record<string, unknown>>;
}

export interface PgToolResult {
  stdout: string;
  stderr: string;
}

/** `-h -p -U` for the cluster's server; the database is chosen by the caller (`-d`). */
export function connectionArgs(db: DatabaseConfig): string[] {
  return ['--no-password', '-h', db.host, '-p', String(db.port), '-U', db.user];
}

export function programPath(program: string, pgBin: string | undefined): string {
  return pgBin ? path.join(pgBin, program) : program;
}

/**
 * Runs the program to completion, heartbeating, and killing it when the activity is cancelled.
 * A non-zero exit becomes an ApplicationFailure of `failureType`, non-retryable when stderr shows
 * a permanent cause; its message carries stderr's last lines with the password masked.
 */
export async function runPgTool(run: PgToolRun, pgBin: string | undefined, failureType: FailureType): Promise<PgToolResult> {
  const context = Context.current();
  const env: NodeJS.ProcessEnv = { ...process.env, PGPASSWORD: run.password, PGSSLMODE: run.db.ssl ? 'require' : 'prefer' };
  // A PGPASSFILE or PGSERVICE from the worker's environment must not override the configured login.
  delete env.PGPASSFILE;
  delete env.PGSERVICE;
  const executable = programPath(run.program, pgBin);
  const child = spawn(executable, run.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const heartbeat = setInterval(() => {
    const details = run.progress ? run.progress() : Promise.resolve({});
    details.then((value) => context.heartbeat({ program: run.program, ...value })).catch(() => context.heartbeat({ program: run.program }));
  }, HEARTBEAT_MS);
  // A cancelled activity must not leave a pg_restore writing into a database behind its back.
  void context.cancelled.catch(() => child.kill('SIGTERM'));

  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    if (exit.code === 0) return { stdout, stderr };
    const tail = mask(stderr, run.password).trim().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
    const message = `${run.program} exited with ${exit.code ?? exit.signal}: ${tail || '(no output)'}`;
    if (PERMANENT_STDERR.test(stderr)) throw ApplicationFailure.nonRetryable(message, failureType, { stderrTail: tail });
    throw ApplicationFailure.retryable(message, failureType, { stderrTail: tail });
  } catch (error) {
    if (error instanceof ApplicationFailure) throw error;
    // Could not start the program at all: a wrong pgBin is a configuration mistake, not a blip.
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw ApplicationFailure.nonRetryable(`cannot run ${executable}: ${code || (error as Error).message} (check backup.pgBin)`, failureType);
  } finally {
    clearInterval(heartbeat);
  }
}

function mask(text: string, secret: string): string {
  return secret ? text.split(secret).join('***') : text;
}

/** sha256 (hex) of a file, streamed (dumps can be far larger than memory) and heartbeating: large ones take minutes. */
export async function sha256File(file: string): Promise<string> {
  const context = Context.current();
  const hash = createHash('sha256');
  let bytesHashed = 0;
  let lastBeat = Date.now();
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytesHashed += (chunk as Buffer).length;
    if (Date.now() - lastBeat >= HEARTBEAT_MS) {
      context.heartbeat({ hashing: file, bytesHashed });
      lastBeat = Date.now();
    }
  }
  return hash.digest('hex');
}

export async function fileSize(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

import { ApplicationFailure } from '@temporalio/common';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FailureType } from '../../common/failure-types';
import { progressEvery, type Hooks } from '../hooks';
import { libpqSslEnv, type PostgresLogin } from './login';

/**
 * Runs pg_dump and pg_restore as child processes. The password reaches them only through the
 * child's environment (PGPASSWORD): argv is visible to every user of the host in `ps`, and the
 * command line is what ends up in logs and failure messages.
 */

/**
 * stderr lines that no retry will cure: wrong credentials, missing objects, an old client, a
 * server certificate the configured CAs do not vouch for, a role the login may not act as.
 */
const PERMANENT_STDERR =
  /password authentication failed|certificate|must be member of role|must be able to SET ROLE|no password supplied|does not exist|permission denied|must be owner|server version mismatch|unsupported version|not a valid archive|input file|did not find magic string|could not open input file|No space left on device|invalid|syntax error/i;

const STDERR_TAIL_LINES = 12;

export interface PgToolRun {
  /** The program's name (pg_dump, pg_restore), resolved against `pgBin` or `searchPath`. */
  program: 'pg_dump' | 'pg_restore';
  args: string[];
  /** Whose password goes into PGPASSWORD; null for a run that connects to nothing (`pg_restore --list`). */
  login: PostgresLogin | null;
  /** Sent through `hooks.progress` every few seconds while the program runs. */
  progress?: () => Promise<Record<string, unknown>>;
  /** Piped into the program's stdin (pg_restore reading a dump straight from the backup store). */
  input?: Readable;
  /**
   * Takes the program's stdout instead of collecting it (pg_dump streaming into the backup store).
   * It gets `exited`, which settles when the program has exited: rejected on a failure, so a
   * consumer that completes only after it (an upload) never stores a dump that pg_dump cut short.
   */
  output?: (stdout: Readable, exited: Promise<void>) => Promise<unknown>;
}

export interface PgToolPlace {
  /** `backup.pgBin`: the directory of the programs; unset means look them up in `searchPath`. */
  pgBin: string | undefined;
  /** The PATH the child gets (the worker's own), so an unset pgBin finds the programs where a shell would. */
  searchPath: string | undefined;
}

export interface PgToolResult {
  stdout: string;
  stderr: string;
}

/** `-h -p -U` for the login's server; the database is chosen by the caller (`-d`). */
export function connectionArgs(login: PostgresLogin): string[] {
  return ['--no-password', '-h', login.host, '-p', String(login.port), '-U', login.user];
}

export function programPath(program: string, pgBin: string | undefined): string {
  return pgBin ? path.join(pgBin, program) : program;
}

/**
 * The child's whole environment, written out rather than copied from the worker's: no other
 * secret of the worker reaches pg_dump, and no PGPASSFILE, PGSERVICE or PGHOST of the worker's
 * environment can override the configured login. LC_ALL=C keeps libpq's messages in English,
 * which is what PERMANENT_STDERR reads.
 */
export function pgToolEnv(login: PostgresLogin | null, searchPath: string | undefined): NodeJS.ProcessEnv {
  return {
    ...(searchPath ? { PATH: searchPath } : {}),
    LC_ALL: 'C',
    ...(login ? { PGPASSWORD: login.password, ...libpqSslEnv(login) } : {}),
  };
}

/**
 * Runs the program to completion, reporting progress, and killing it when `hooks.signal` aborts
 * (a cancelled activity must not leave a pg_restore writing into a database behind its back).
 * A non-zero exit becomes an ApplicationFailure of `failureType`, non-retryable when stderr shows
 * a permanent cause; its message carries stderr's last lines with the password masked. A program
 * that cannot be started at all is a wrong `pgBin`: a configuration mistake, not a blip.
 */
export async function runPgTool(run: PgToolRun, place: PgToolPlace, failureType: FailureType, hooks: Hooks = {}): Promise<PgToolResult> {
  const executable = programPath(run.program, place.pgBin);
  const child = spawn(executable, run.args, { env: pgToolEnv(run.login, place.searchPath), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  if (!run.output) child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // A program that stops reading (pg_restore --list has the TOC it needs) ends the feed: not an error.
  if (run.input) {
    child.stdin.on('error', () => undefined);
    run.input.on('error', (error) => child.kill('SIGTERM') && child.stdin.destroy(error));
    run.input.pipe(child.stdin);
  } else {
    child.stdin.end();
  }
  const stop = progressEvery(hooks, async () => ({ program: run.program, ...(run.progress ? await run.progress() : {}) }));
  const kill = () => child.kill('SIGTERM');
  hooks.signal?.addEventListener('abort', kill, { once: true });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).then((exit) => {
    if (exit.code === 0) return;
    const tail = mask(stderr, run.login?.password ?? '').trim().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
    const message = `${run.program} exited with ${exit.code ?? exit.signal}: ${tail || '(no output)'}`;
    if (PERMANENT_STDERR.test(stderr)) throw ApplicationFailure.nonRetryable(message, failureType, { stderrTail: tail });
    throw ApplicationFailure.retryable(message, failureType, { stderrTail: tail });
  });
  try {
    if (run.output) {
      const consumed = run.output(child.stdout, exited);
      // The program's own failure is the one to report when both fail.
      const [program, consumer] = await Promise.allSettled([exited, consumed]);
      if (program.status === 'rejected') throw program.reason;
      if (consumer.status === 'rejected') {
        child.kill('SIGTERM');
        // The store's own error (retryable unless it says otherwise), not "cannot run the program".
        throw consumer.reason instanceof ApplicationFailure
          ? consumer.reason
          : ApplicationFailure.retryable(`${run.program}'s output could not be stored: ${(consumer.reason as Error).message}`, failureType);
      }
    } else {
      await exited;
    }
    return { stdout, stderr };
  } catch (error) {
    if (error instanceof ApplicationFailure) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw ApplicationFailure.nonRetryable(`cannot run ${executable}: ${code || (error as Error).message} (check backup.pgBin)`, failureType);
  } finally {
    stop();
    hooks.signal?.removeEventListener('abort', kill);
  }
}

function mask(text: string, secret: string): string {
  return secret ? text.split(secret).join('***') : text;
}

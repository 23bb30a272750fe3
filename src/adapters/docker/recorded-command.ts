import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { FailureType } from '../../common/failure-types';
import type { Hooks } from '../hooks';
import { COMMAND_RECORD_SCRIPT } from './command-record-script';
import type { ExecResult } from './exec';

/** Runs argv in one running node (docker exec; exec into a pod): the recorder runs over it. */
export type CommandExec = (argv: string[], hooks?: Hooks) => Promise<ExecResult>;

/**
 * Commands in a container that run at most once per id, can be killed and leave their outcome
 * behind, although `docker exec` (or an exec into a pod) can do none of that: each runs under a small Node.js program
 * (command-record-script.ts) that keeps a record in the container's `/tmp`. A second run of the
 * same id returns the recorded outcome, or waits for the first run while it lives, and only runs
 * the command again when the first run died without an outcome. The record lives as long as the
 * container: a recreated container runs the command anew.
 */

/** Where the records live in the container; /tmp is writable in every node image. */
export const COMMAND_RECORD_DIR = '/tmp/nocobase-maintenance';

/** Ids name files in the container: kept to a safe alphabet. */
export const COMMAND_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/** How long a killed command gets to end after SIGTERM before it and its children get SIGKILL. */
const KILL_GRACE_MS = 10_000;

export interface RecordedOutcome extends ExecResult {
  /** False when the outcome is that of an earlier run of the id (found recorded, or waited for). */
  ranNow: boolean;
}

interface Status {
  result: { exitCode: number; output: string; token: string; finishedAt: string } | null;
  running: boolean;
}

function script(mode: 'run' | 'status' | 'kill', id: string, arg: string, command: string[] = []): string[] {
  if (!COMMAND_ID_PATTERN.test(id)) throw ApplicationFailure.nonRetryable(`command id "${id}" must match ${COMMAND_ID_PATTERN}`, FailureType.InvalidInput);
  return ['node', '-e', COMMAND_RECORD_SCRIPT, mode, COMMAND_RECORD_DIR, id, arg, ...command];
}

/** One JSON line from a helper exec; a container without `node` cannot run recorded commands. */
async function helper<T>(exec: CommandExec, container: string, argv: string[]): Promise<T> {
  const { exitCode, output } = await exec(argv);
  const line = output.trim().split('\n').at(-1) ?? '';
  if (exitCode === 0) {
    try {
      return JSON.parse(line) as T;
    } catch {
      // fall through: not our program's answer
    }
  }
  throw ApplicationFailure.nonRetryable(
    `container ${container} cannot run the command recorder (\`node\` on its PATH is needed): exit ${exitCode}: ${output.trim().slice(-300)}`,
    FailureType.Misconfigured,
  );
}

/**
 * Runs `command` in the running container `name` under the record `id` and returns its outcome,
 * or the outcome of an earlier run of `id`. The output goes to `hooks.progress` while it runs.
 * Aborting `hooks.signal` stops the waiting and rejects with its reason; the command runs on until
 * killRecordedCommand. Throws (retryable) when the run ended without recording an outcome: it was
 * killed, or the container stopped; running the same id again then runs the command again.
 */
export async function runRecordedCommand(exec: CommandExec, name: string, id: string, command: string[], hooks: Hooks = {}): Promise<RecordedOutcome> {
  const token = randomUUID();
  await exec(script('run', id, token, command), hooks);
  const { result } = await helper<Status>(exec, name, script('status', id, '-'));
  if (!result) throw new Error(`\`${command.join(' ')}\` (id ${id}) in ${name} ended without an outcome: it was killed, or the container stopped`);
  return { exitCode: result.exitCode, output: result.output, ranNow: result.token === token };
}

/**
 * Kills the run of `id` in container `name`, if one lives: SIGTERM to the command's process group,
 * SIGKILL after KILL_GRACE_MS, then clears its record so the id runs again. An outcome already
 * recorded is kept (the command had ended). Safe to repeat.
 */
export async function killRecordedCommand(exec: CommandExec, name: string, id: string, graceMs = KILL_GRACE_MS): Promise<{ killed: boolean }> {
  const { killed } = await helper<{ killed: boolean }>(exec, name, script('kill', id, String(graceMs)));
  return { killed };
}

/** Whether `id` has a recorded outcome, and whether a run of it lives (read-only). */
export async function recordedCommandStatus(exec: CommandExec, name: string, id: string): Promise<{ recorded: boolean; running: boolean }> {
  const { result, running } = await helper<Status>(exec, name, script('status', id, '-'));
  return { recorded: result !== null, running };
}

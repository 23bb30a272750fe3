import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { FailureType } from '../../common/failure-types';
import { progressEvery, whenAborted, type Hooks } from '../hooks';
import { isNotFound } from './errors';

/** Output kept of a command: its end is what explains a failure. */
const OUTPUT_LIMIT = 16 * 1024;

export interface ExecResult {
  exitCode: number;
  /** stdout and stderr interleaved as the command wrote them, cut to the last 16 KiB. */
  output: string;
}

/**
 * `docker exec` of `command` in the running container `name`, waiting for it to end; its latest
 * output goes to `hooks.progress` meanwhile. A container that does not exist is a configuration
 * naming something absent (Misconfigured, non-retryable); the exit code is the caller's to judge.
 * Aborting `hooks.signal` stops the waiting and rejects with its reason; the process itself runs
 * on (the Engine has no kill for an exec): commands that must stop run under a record
 * (recorded-command.ts).
 */
export async function execInContainer(docker: Docker, name: string, command: string[], hooks: Hooks = {}): Promise<ExecResult> {
  const container = docker.getContainer(name);
  let exec: Docker.Exec;
  try {
    exec = await container.exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
  } catch (error) {
    if (isNotFound(error)) throw ApplicationFailure.nonRetryable(`container ${name} does not exist`, FailureType.Misconfigured);
    throw error;
  }
  const stream = await exec.start({ hijack: true, stdin: false });
  const sink = new PassThrough();
  let output = '';
  sink.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  });
  docker.modem.demuxStream(stream, sink, sink);
  const stop = progressEvery(hooks, () => ({ output: output.slice(-500) }));
  try {
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', reject);
      }),
      whenAborted(hooks.signal),
    ]);
  } finally {
    stop();
    if (hooks.signal?.aborted) stream.destroy();
  }
  return { exitCode: (await exec.inspect()).ExitCode ?? -1, output };
}

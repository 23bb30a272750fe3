import { ApplicationFailure, Context } from '@temporalio/activity';
import { PassThrough } from 'node:stream';
import { FailureType } from '../../common/failure-types';
import { getNode } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { isNotFound } from '../../adapters/docker/errors';

export interface NodeCommandResult {
  node: string;
  command: string[];
  exitCode: number;
  /** stdout and stderr interleaved as the command wrote them, cut to the last 16 KiB. */
  output: string;
}

const OUTPUT_LIMIT = 16 * 1024;

export function createNodeCommandActivities(deps: ActivityDeps) {
  return {
    /**
     * Runs a command inside a running node's container (`docker exec`), e.g. NocoBase's
     * `yarn pm enable <plugin>`, and returns its exit code and output. A non-zero exit fails with
     * `OperationFailed`, the output in the failure's details, and is not retried: NocoBase's pm
     * commands are idempotent, but a command that failed once will fail the same way again.
     */
    async runNodeCommand(input: { cluster: string; node: string; command: string[] }): Promise<NodeCommandResult> {
      const node = getNode(deps, input.cluster, input.node);
      const container = deps.docker(node.dockerHost).getContainer(node.container);
      let exec;
      try {
        exec = await container.exec({ Cmd: input.command, AttachStdout: true, AttachStderr: true });
      } catch (error) {
        if (isNotFound(error)) throw ApplicationFailure.nonRetryable(`container ${node.container} does not exist`, FailureType.Misconfigured);
        throw error;
      }
      const stream = await exec.start({ hijack: true, stdin: false });
      const sink = new PassThrough();
      let output = '';
      sink.on('data', (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
      });
      deps.docker(node.dockerHost).modem.demuxStream(stream, sink, sink);
      const heartbeat = setInterval(() => Context.current().heartbeat({ output: output.slice(-500) }), 2_000);
      try {
        await new Promise<void>((resolve, reject) => {
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', reject);
        });
      } finally {
        clearInterval(heartbeat);
      }
      const exitCode = (await exec.inspect()).ExitCode ?? -1;
      const result = { node: node.name, command: input.command, exitCode, output };
      if (exitCode !== 0) {
        throw ApplicationFailure.nonRetryable(
          `\`${input.command.join(' ')}\` on ${node.name} exited with ${exitCode}: ${output.trim().split('\n').slice(-3).join(' / ')}`,
          FailureType.OperationFailed,
          result,
        );
      }
      return result;
    },
  };
}

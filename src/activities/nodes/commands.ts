import { ApplicationFailure } from '@temporalio/activity';
import { execInContainer } from '../../adapters/docker/exec';
import { FailureType } from '../../common/failure-types';
import { activityHooks } from '../activity-context';
import { getNode } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';

export interface NodeCommandResult {
  node: string;
  command: string[];
  exitCode: number;
  /** stdout and stderr interleaved as the command wrote them, cut to the last 16 KiB. */
  output: string;
}

export function createNodeCommandActivities(deps: ActivityDeps) {
  return {
    /**
     * Runs a command inside a running node's container (`docker exec`), e.g. NocoBase's
     * `yarn pm enable <plugin>`, and returns its exit code and output; heartbeats the latest
     * output. A non-zero exit fails with `OperationFailed`, the output in the failure's details,
     * and is not retried: NocoBase's pm commands are idempotent, but a command that failed once
     * will fail the same way again. Its side effects are the command's own.
     */
    async runNodeCommand(input: { cluster: string; node: string; command: string[] }): Promise<NodeCommandResult> {
      const node = getNode(deps, input.cluster, input.node);
      const { exitCode, output } = await execInContainer(deps.docker(node.dockerHost), node.container, input.command, activityHooks());
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

import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { COMMAND_ID_PATTERN, killRecordedCommand, runRecordedCommand, type RecordedOutcome } from '../../adapters/docker/recorded-command';
import { FailureType } from '../../common/failure-types';
import { activityHooks } from '../activity-context';
import { getNode } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { asDockerNode } from './factory';

export interface NodeCommandResult {
  node: string;
  command: string[];
  exitCode: number;
  /** stdout and stderr interleaved as the command wrote them, cut to the last 16 KiB. */
  output: string;
}

export interface NodeCommandInput {
  cluster: string;
  node: string;
  command: string[];
  /**
   * Names this command's one run on the node (letters, digits, _ . -, e.g. `<runLabel>-<index>`):
   * every attempt with the same id gets the outcome of that run instead of running it again.
   * Default: derived from the workflow run, the activity and the command, so retries of one
   * scheduled activity share it.
   */
  commandId?: string;
}

/** The default commandId: stable over the attempts of one scheduled activity, new for every other. */
function derivedCommandId(command: string[]): string {
  const { workflowExecution, activityId } = Context.current().info;
  const hash = createHash('sha256').update(JSON.stringify([workflowExecution?.runId, activityId, command])).digest('hex');
  return `activity-${hash.slice(0, 24)}`;
}

export function createNodeCommandActivities(deps: ActivityDeps) {
  return {
    /**
     * Runs a command inside a running node's container (`docker exec`), e.g. NocoBase's
     * `yarn pm enable <plugin>`, and returns its exit code and output; heartbeats the latest
     * output, so give it a heartbeatTimeout (the `longRunning` preset).
     *
     * At most once per `commandId`: the command runs under a record in the container (pid,
     * output, outcome), so a retried attempt returns the first run's outcome, or waits for that
     * run while it lives, and runs the command again only when the first run died without an
     * outcome (its leftover processes are killed first). Cancelled or timed out, it kills the
     * command's process group (SIGTERM, SIGKILL after 10 s); on a worker shutdown it leaves the
     * command running for the next attempt to wait for. Safe to retry.
     *
     * A non-zero exit fails with `OperationFailed`, the output in the failure's details, and is
     * not retried: a command that failed once will fail the same way again. Its side effects are
     * the command's own.
     */
    async runNodeCommand(input: NodeCommandInput): Promise<NodeCommandResult> {
      const node = asDockerNode(getNode(deps, input.cluster, input.node), 'a node command (docker exec)');
      if (input.commandId !== undefined && !COMMAND_ID_PATTERN.test(input.commandId)) {
        throw ApplicationFailure.nonRetryable(`commandId "${input.commandId}" must be letters, digits, _ . - (at most 128)`, FailureType.InvalidInput);
      }
      const id = input.commandId ?? derivedCommandId(input.command);
      const docker = deps.docker(node.dockerHost);
      const context = Context.current();
      let outcome: RecordedOutcome;
      try {
        outcome = await runRecordedCommand(docker, node.container, id, input.command, activityHooks());
      } catch (error) {
        // A worker going down leaves the command to the next attempt, which waits for it; any other
        // end of this attempt (cancelled, timed out, paused, reset) means nobody will.
        if (context.cancellationSignal.aborted && !context.cancellationDetails?.workerShutdown) {
          await killRecordedCommand(docker, node.container, id).then(
            ({ killed }) => log.warn('node command killed on cancellation', { cluster: input.cluster, node: node.name, commandId: id, killed }),
            (killError: unknown) => log.warn('node command could not be killed', { cluster: input.cluster, node: node.name, commandId: id, error: String(killError) }),
          );
        }
        throw error;
      }
      if (!outcome.ranNow) log.info('node command: outcome of an earlier run of this commandId', { cluster: input.cluster, node: node.name, commandId: id });
      const result = { node: node.name, command: input.command, exitCode: outcome.exitCode, output: outcome.output };
      if (outcome.exitCode !== 0) {
        throw ApplicationFailure.nonRetryable(
          `\`${input.command.join(' ')}\` on ${node.name} exited with ${outcome.exitCode}: ${outcome.output.trim().split('\n').slice(-3).join(' / ')}`,
          FailureType.OperationFailed,
          result,
        );
      }
      return result;
    },
  };
}

import { ApplicationFailure, Context } from '@temporalio/activity';
import { RESTART_POLICY_NAMES, type RestartPolicy } from '../../adapters/docker/restart-policy';
import { FailureType } from '../../common/failure-types';
import { getNode } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { nodesOf } from './factory';
import type { RestartPolicyChange } from './nodes';

export type { RestartPolicy, RestartPolicyName } from '../../adapters/docker/restart-policy';
export type { RestartPolicyChange } from './nodes';

export function createRestartPolicyActivities(deps: ActivityDeps) {
  return {
    /**
     * Makes sure nothing but the procedure starts the node while it holds it stopped. Docker: sets
     * the container's restart policy to `no`, so a dockerd restart during a long verification (or
     * an image replacement: the replacement and the saved `-pre-` container both copy it) does not
     * start it on data it must not see, and records the policy it had on the node's Docker host
     * first (until restoreRestartPolicy gives it back). Kubernetes: nothing to hold, the procedure
     * holds the Deployment's replicas. Returns the policy to give back. Safe to retry: a container
     * already at `no` is left alone and the policy recorded by an earlier attempt or run (the
     * record, else the attempt's heartbeat) is returned, or `no` if none was.
     */
    async suspendRestartPolicy(input: { cluster: string; node: string }): Promise<RestartPolicyChange> {
      const context = Context.current();
      const node = getNode(deps, input.cluster, input.node);
      const earlier = (context.info.heartbeatDetails as { previous?: RestartPolicy } | undefined)?.previous;
      const change = await nodesOf(deps, input.cluster).suspendRestartPolicy(node, earlier);
      if (change.changed) context.heartbeat({ previous: change.policy });
      return change;
    },

    /**
     * Gives the node (whichever container it is now: the replacement or the restored previous
     * one) the restart policy `policy`, usually what suspendRestartPolicy returned, and removes the
     * record of the suspension. With `ifRunning`, a stopped container is left at its policy and its
     * record kept (a person holds it stopped: a dockerd restart must not start it). Changes nothing
     * else and never starts or stops it. Idempotent and safe to retry. An unknown policy name is
     * refused (InvalidInput).
     */
    async restoreRestartPolicy(input: { cluster: string; node: string; policy: RestartPolicy; ifRunning?: boolean }): Promise<RestartPolicyChange> {
      if (!RESTART_POLICY_NAMES.includes(input.policy.name)) {
        throw ApplicationFailure.nonRetryable(`unknown restart policy "${String(input.policy.name)}" (expected ${RESTART_POLICY_NAMES.join(', ')})`, FailureType.InvalidInput);
      }
      const node = getNode(deps, input.cluster, input.node);
      return nodesOf(deps, input.cluster).restoreRestartPolicy(node, input.policy, input.ifRunning === true);
    },
  };
}

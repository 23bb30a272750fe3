import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { inspectContainer } from '../../adapters/docker/containers';
import {
  forgetHeldPolicy,
  readHeldPolicy,
  recordHeldPolicy,
  RESTART_POLICY_NAMES,
  restartPolicyFrom,
  sameRestartPolicy,
  setRestartPolicy,
  type RestartPolicy,
} from '../../adapters/docker/restart-policy';
import { FailureType } from '../../common/failure-types';
import { getNode, missingContainer } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';

export type { RestartPolicy, RestartPolicyName } from '../../adapters/docker/restart-policy';

export interface RestartPolicyChange {
  node: string;
  container: string;
  /** suspend: the policy before (keep it for restoreRestartPolicy); restore: the policy set. */
  policy: RestartPolicy;
  /** False when the container already had the wanted policy. */
  changed: boolean;
}

const NO: RestartPolicy = { name: 'no' };

// Design: the previous policy is the activity's result, kept by the workflow, AND recorded before
// the update on the node's Docker host (adapters/docker/restart-policy.ts: labels cannot change on
// an existing container, and a worker-local file is not there when another worker retries). The
// record outlives the run: a terminated run, a retry whose result was lost, or the next run finds
// the policy to give back instead of the `no` it set, and the next pre-flight names the node.

export function createRestartPolicyActivities(deps: ActivityDeps) {
  async function locate(input: { cluster: string; node: string }) {
    const node = getNode(deps, input.cluster, input.node);
    const docker = deps.docker(node.dockerHost);
    const info = await inspectContainer(docker, node.container);
    if (!info) throw missingContainer(node);
    return { node, docker, current: restartPolicyFrom(info.HostConfig), running: info.State?.Running === true };
  }

  return {
    /**
     * Sets the node's container restart policy to `no`, so a dockerd restart while the procedure
     * holds the node stopped (or replaces its image: the replacement and the saved `-pre-`
     * container both copy it) does not start it on data it must not see. Records the policy it had
     * on the node's Docker host first (until restoreRestartPolicy gives it back) and returns it.
     * Safe to retry: a container already at `no` is left alone and the policy recorded by an earlier
     * attempt or run (the record, else the attempt's heartbeat) is returned, or `no` if none was.
     */
    async suspendRestartPolicy(input: { cluster: string; node: string }): Promise<RestartPolicyChange> {
      const context = Context.current();
      const { node, docker, current } = await locate(input);
      if (current.name === 'no') {
        const recorded = (await readHeldPolicy(docker, node.container)) ?? (context.info.heartbeatDetails as { previous?: RestartPolicy } | undefined)?.previous;
        return { node: node.name, container: node.container, policy: recorded ?? current, changed: false };
      }
      await recordHeldPolicy(docker, node.container, current);
      context.heartbeat({ previous: current });
      await setRestartPolicy(docker, node.container, NO);
      log.info('restart policy suspended', { cluster: input.cluster, node: node.name, previous: current.name });
      return { node: node.name, container: node.container, policy: current, changed: true };
    },

    /**
     * Gives the node's container (whichever it is now: the replacement or the restored previous
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
      const { node, docker, current, running } = await locate(input);
      if (input.ifRunning && !running) return { node: node.name, container: node.container, policy: current, changed: false };
      const same = sameRestartPolicy(current, input.policy);
      // Set before the record goes: a retry after a lost result finds the policy set and removes it.
      if (!same) await setRestartPolicy(docker, node.container, input.policy);
      await forgetHeldPolicy(docker, node.container);
      if (same) return { node: node.name, container: node.container, policy: current, changed: false };
      log.info('restart policy restored', { cluster: input.cluster, node: node.name, policy: input.policy.name });
      return { node: node.name, container: node.container, policy: input.policy, changed: true };
    },
  };
}

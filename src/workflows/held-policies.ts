import type { RestartPolicy } from '../activities/nodes/restart-policy';
import { quick } from './activity-options';
import { inParallel } from './node-rollout';

/**
 * Gives back, in every ending of a run (abandoned rollbacks included), the restart policies its
 * procedure took from the nodes it held stopped. Runs recorded before it replay without it.
 */
export const EVERY_ENDING_PATCH = 'restart-policies-every-ending';

/** In-app maintenance holds nodes stopped without a restart policy; runs recorded before did not. */
export const IN_APP_POLICIES_PATCH = 'in-app-holds-restart-policies';

/**
 * The restart policies a procedure took away from the nodes it holds stopped: a dockerd restart
 * or a reboot must not start a held node on data being upgraded, migrated or restored.
 * suspendRestartPolicy also records each on the node's Docker host, so what a run could not give
 * back is named by the next pre-flight, and its retry or the next run never takes `no` for the
 * node's own policy.
 */
export class HeldPolicies {
  private readonly policies = new Map<string, RestartPolicy>();

  constructor(private readonly cluster: string) {}

  /** Sets `nodes` to `no`, keeping what each had. Call before stopping them. */
  async hold(nodes: readonly string[]): Promise<void> {
    await inParallel(nodes, async (node) => {
      this.policies.set(node, (await quick.suspendRestartPolicy({ cluster: this.cluster, node })).policy);
    });
  }

  /**
   * Gives held `nodes` (default: every held node) their policies back. With `ifRunning` (an
   * abandoned rollback) only those that run get it: one a person left stopped keeps `no`, and its
   * record, so that a dockerd restart cannot start it on data the rollback did not put back.
   */
  async giveBack(nodes: readonly string[] = [...this.policies.keys()], ifRunning = false): Promise<void> {
    await inParallel(nodes, async (node) => {
      const policy = this.policies.get(node);
      if (policy) await quick.restoreRestartPolicy({ cluster: this.cluster, node, policy, ...(ifRunning ? { ifRunning } : {}) });
    });
  }
}

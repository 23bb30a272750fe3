import type { Hooks } from '../../adapters/hooks';
import type { CommandExec } from '../../adapters/docker/recorded-command';
import type { RestartPolicy } from '../../adapters/docker/restart-policy';
import type { NodeSnapshot } from '../../common/procedure-types';
import type { NodeConfig } from '../../config/schema';

/**
 * The nodes: the whole port the node activities speak (as flagger's pkg/canary/controller.go is its
 * workloads' port). Each platform is one adapter beside this file: docker-nodes.ts (a named
 * container on a Docker host) and kubernetes-nodes.ts (a replica of a Deployment); factory.ts is
 * the one place that picks it from the node's configuration. Procedures and the saga name neither:
 * they call the activities (startNode, stopNode, replaceNodeImage, ...), whose contracts — idempotent,
 * safe to retry, the failure types they throw — every adapter keeps.
 */

export interface StopOutcome {
  /** True when nothing of the node runs any more (no process, not "terminating"). */
  gone: boolean;
  status: string;
  pid: number;
  /** True when the node had to be killed after its grace period. */
  killed: boolean;
}

export interface ReplacedNode {
  node: string;
  /** Where the node lives: its container, or `<deployment>` on Kubernetes. */
  container: string;
  /** The image reference the node ran before this replacement. */
  previousImage: string;
  image: string;
  /** Where the previous definition is kept (a saved container, a Deployment annotation), or null. */
  savedAs: string | null;
  /** True when the node's definition is a replacement made under this label (also on a retry). */
  changed: boolean;
}

export interface RestoredNode {
  node: string;
  container: string;
  /** The image the node runs from now. */
  image: string;
  /** False when there was nothing saved to put back. */
  restored: boolean;
}

export interface RestartPolicyChange {
  node: string;
  container: string;
  /** suspend: the policy before (keep it for restoreRestartPolicy); restore: the policy set. */
  policy: RestartPolicy;
  /** False when the node already had the wanted policy. */
  changed: boolean;
}

/** Why a node that was meant to come up will not: it stopped (exit code, last log lines). */
export interface NodeExit {
  state: string;
  exitCode: number | null;
  logTail: string;
}

export interface Nodes {
  /** What a workflow may know of the node (never its definition: its env holds secrets). Misconfigured when it does not exist. */
  snapshot(node: NodeConfig): Promise<NodeSnapshot>;
  /** Starts the node; one already running is left as it is. */
  start(node: NodeConfig): Promise<void>;
  /** Stops the node (grace `timeoutMs`, then killed) and says whether nothing of it runs any more. */
  stop(node: NodeConfig, timeoutMs: number): Promise<StopOutcome>;
  /** Puts a stopped node on `image`, keeping its previous definition under `label` for restoreImage. */
  replaceImage(node: NodeConfig, image: string, label: string): Promise<ReplacedNode>;
  /** Puts the definition kept under `label` back (the node is left stopped). */
  restoreImage(node: NodeConfig, label: string, stopTimeoutMs: number): Promise<RestoredNode>;
  /** Forgets the definition kept under `label` once the upgrade is accepted. */
  discardSaved(node: NodeConfig, label: string): Promise<{ removed: boolean }>;
  /** Makes sure nothing but the procedure starts the node while it holds it stopped; returns what to give back. */
  suspendRestartPolicy(node: NodeConfig, earlier: RestartPolicy | undefined): Promise<RestartPolicyChange>;
  /** Gives back what suspendRestartPolicy took (with `ifRunning`: only to a running node). */
  restoreRestartPolicy(node: NodeConfig, policy: RestartPolicy, ifRunning: boolean): Promise<RestartPolicyChange>;
  /** The node's health check URL now, or null while it has no address (not started yet). */
  healthUrl(node: NodeConfig): Promise<string | null>;
  /** The node stopped instead of coming up: how, else null. */
  exited(node: NodeConfig): Promise<NodeExit | null>;
  /**
   * The node's image and environment (`NAME=value` lines) as it is defined to run: read by the
   * table-naming lookup and the invariant check, never returned from an activity (it holds secrets).
   */
  environment(node: NodeConfig): Promise<{ image: string; env: string[] }>;
  /**
   * What the platform itself makes wrong about these nodes being the whole cluster (the pre-flight
   * refuses it): on Kubernetes, a Deployment with more replicas than the configuration lists, whose
   * extra pods no procedure would stop, so they would serve the old version beside the new.
   */
  platformProblems(nodes: readonly NodeConfig[]): Promise<string[]>;
  /** Runs commands in the running node (docker exec, or exec into its pod); `where` names its container or pod. */
  execIn(node: NodeConfig): Promise<{ where: string; exec: CommandExec }>;
  /** The last lines the node wrote, for failure messages ('' when there is nothing to read). */
  logTail(node: NodeConfig, lines: number): Promise<string>;
}

export type { Hooks };

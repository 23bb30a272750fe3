import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import type { ApprovalPolicyPlan, NodeSnapshot } from '../../common/procedure-types';
import type { ClusterConfig, NodeConfig } from '../../config/schema';
import type { ActivityDeps } from '../deps';
import { nodesOf } from '../nodes/factory';

/**
 * Finding a cluster, a node and a node's container from the names a workflow passes. A name the
 * configuration does not know, or a container it names that does not exist, is a configuration
 * mistake: non-retryable.
 */

export function getCluster(deps: ActivityDeps, name: string): ClusterConfig {
  const cluster = deps.config.clusters[name];
  if (!cluster) {
    const known = Object.keys(deps.config.clusters).join(', ');
    throw ApplicationFailure.nonRetryable(`unknown cluster "${name}" (this worker knows: ${known})`, FailureType.UnknownCluster);
  }
  return cluster;
}

export function getNode(deps: ActivityDeps, clusterName: string, nodeName: string): NodeConfig {
  const node = getCluster(deps, clusterName).nodes.find((candidate) => candidate.name === nodeName);
  if (!node) {
    throw ApplicationFailure.nonRetryable(`cluster "${clusterName}" has no node "${nodeName}"`, FailureType.Misconfigured);
  }
  return node;
}

export function lbServerName(node: NodeConfig): string {
  return ('lbServer' in node ? node.lbServer : undefined) ?? node.name;
}

/** What a workflow may know of a node: never its definition (its env holds secrets). */
export async function snapshotNode(deps: ActivityDeps, clusterName: string, node: NodeConfig): Promise<NodeSnapshot> {
  return nodesOf(deps, clusterName).snapshot(node);
}

/** A node's image and environment as it is defined to run (stays in the worker: it holds secrets). */
export async function nodeEnvironment(deps: ActivityDeps, clusterName: string, node: NodeConfig): Promise<{ image: string; env: string[] }> {
  return nodesOf(deps, clusterName).environment(node);
}

/** A cluster's approval policy as procedures and fleets plan with it (no key: only whether links are signed). */
export function approvalPolicyPlan(deps: Pick<ActivityDeps, 'config'>, cluster: ClusterConfig): ApprovalPolicyPlan {
  return {
    mode: cluster.approval.mode,
    minApprovals: cluster.approval.minApprovals,
    twoPersonRule: cluster.approval.twoPersonRule,
    allowProceedOnTimeout: cluster.approval.allowProceedOnTimeout,
    ...(cluster.approval.maxApprovalWait === undefined ? {} : { maxApprovalWaitMs: cluster.approval.maxApprovalWait }),
    links: deps.config.approvals !== undefined,
    ...(deps.config.approvals ? { linkTtlMs: deps.config.approvals.linkTtl } : {}),
    aliases: Object.fromEntries(Object.entries(cluster.approval.aliases).map(([alias, name]) => [alias.trim().toLowerCase(), name.trim().toLowerCase()])),
  };
}

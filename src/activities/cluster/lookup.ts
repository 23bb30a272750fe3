import { ApplicationFailure } from '@temporalio/activity';
import type Docker from 'dockerode';
import { inspectContainer } from '../../adapters/docker/containers';
import { FailureType } from '../../common/failure-types';
import { roleOf } from '../../common/node-order';
import type { ApprovalPolicyPlan, NodeSnapshot } from '../../common/procedure-types';
import type { ClusterConfig, NodeConfig } from '../../config/schema';
import type { ActivityDeps } from '../deps';

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
  return node.lbServer ?? node.name;
}

export function missingContainer(node: NodeConfig): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`node ${node.name}: container "${node.container}" does not exist on ${node.dockerHost}`, FailureType.Misconfigured);
}

/** A node's container as its Docker host sees it; a missing one is Misconfigured. */
export async function inspectNode(deps: ActivityDeps, node: NodeConfig): Promise<Docker.ContainerInspectInfo> {
  const info = await inspectContainer(deps.docker(node.dockerHost), node.container);
  if (!info) throw missingContainer(node);
  return info;
}

/** What a workflow may know of a node's container: never its definition (its env holds secrets). */
export async function snapshotNode(deps: ActivityDeps, node: NodeConfig): Promise<NodeSnapshot> {
  const info = await inspectNode(deps, node);
  return {
    name: node.name,
    container: node.container,
    image: info.Config.Image,
    imageId: info.Image,
    state: info.State.Status,
    running: info.State.Running,
    role: roleOf(node),
  };
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

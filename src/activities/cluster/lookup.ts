import { ApplicationFailure } from '@temporalio/activity';
import type Docker from 'dockerode';
import { FailureType } from '../../common/failure-types';
import type { ClusterConfig, NodeConfig } from '../../config/schema';
import type { ActivityDeps } from '../deps';
import { isNotFound } from '../../adapters/docker/errors';

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

/**
 * A node's container as its Docker host sees it. A missing container is a configuration that
 * names something that does not exist: not retryable.
 */
export async function inspectNode(deps: ActivityDeps, node: NodeConfig): Promise<Docker.ContainerInspectInfo> {
  try {
    return await deps.docker(node.dockerHost).getContainer(node.container).inspect();
  } catch (error) {
    if (isNotFound(error)) {
      throw ApplicationFailure.nonRetryable(`node ${node.name}: container "${node.container}" does not exist on ${node.dockerHost}`, FailureType.Misconfigured);
    }
    throw error;
  }
}

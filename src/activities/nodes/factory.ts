import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import type { DockerNodeConfig, KubernetesNodeConfig, NodeConfig } from '../../config/schema';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { dockerNodes } from './docker-nodes';
import { kubernetesNodes } from './kubernetes-nodes';
import type { Nodes } from './nodes';

/**
 * The one place that picks the nodes' adapter: a cluster with a `kubernetes:` section runs its
 * nodes as Deployment replicas, any other as containers on Docker hosts.
 */
export function nodesOf(deps: ActivityDeps, clusterName: string): Nodes {
  const cluster = getCluster(deps, clusterName);
  if (cluster.kubernetes) {
    if (!deps.kubernetes) throw ApplicationFailure.nonRetryable(`cluster ${clusterName} is on Kubernetes but this worker has no Kubernetes client`, FailureType.Misconfigured);
    return kubernetesNodes(deps.kubernetes(clusterName), cluster.kubernetes, asKubernetesNode, deps.pollIntervalMs);
  }
  return dockerNodes((host) => deps.docker(host), asDockerNode);
}

export const isKubernetesNode = (node: NodeConfig): node is KubernetesNodeConfig => 'deployment' in node;
export const isDockerNode = (node: NodeConfig): node is DockerNodeConfig => !isKubernetesNode(node);

/** A node some Docker-only work needs as a container; a Deployment replica is a configuration mistake there. */
export function asDockerNode(node: unknown, what = 'this step'): DockerNodeConfig {
  const config = node as NodeConfig;
  if (isKubernetesNode(config)) {
    throw ApplicationFailure.nonRetryable(`node ${config.name} is replica ${config.replica} of Deployment ${config.deployment}: ${what} needs a Docker node`, FailureType.Misconfigured);
  }
  return config;
}

export function asKubernetesNode(node: unknown): KubernetesNodeConfig {
  const config = node as NodeConfig;
  if (!isKubernetesNode(config)) {
    throw ApplicationFailure.nonRetryable(`node ${config.name} is a Docker container in a cluster on Kubernetes`, FailureType.Misconfigured);
  }
  return config;
}

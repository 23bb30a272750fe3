/**
 * Stable `ApplicationFailure.type` values. Workflows, tests and operators match on these strings,
 * so they never change meaning; add new ones instead.
 */
export enum FailureType {
  /** The workflow input is malformed; nothing was touched. */
  InvalidInput = 'InvalidInput',
  /** The workflow was started under an ID other than the cluster's procedure ID. */
  InvalidWorkflowId = 'InvalidWorkflowId',
  /** No cluster of that name in the worker's configuration. */
  UnknownCluster = 'UnknownCluster',
  /** The configuration names something that does not exist (container, LB backend or server). */
  Misconfigured = 'Misconfigured',
  /** A first start was asked for a cluster that already has running nodes. */
  ClusterNotStopped = 'ClusterNotStopped',
  /** The cluster's database cannot be reached or refuses the configured credentials. */
  DatabaseUnreachable = 'DatabaseUnreachable',
  /** An image is neither on the Docker host nor pullable from its registry. */
  ImageUnavailable = 'ImageUnavailable',
  /** A node's container stopped on its own while we waited for it to become ready. */
  NodeExited = 'NodeExited',
  /** A node did not become healthy (and, where asked, plugins enabled) within its timeout. */
  NodeNotReady = 'NodeNotReady',
  /** The load balancer's runtime API refused a command. */
  LoadBalancerError = 'LoadBalancerError',
  /** The load balancer did not report the nodes as serving within its timeout. */
  LoadBalancerNotServing = 'LoadBalancerNotServing',
}

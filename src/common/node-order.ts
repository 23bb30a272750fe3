/**
 * NocoBase's service splitting: a node started with `WORKER_MODE` runs background jobs only and
 * serves no user traffic. The cluster config marks it `role: worker`; every other node is an
 * `app` node. The order every procedure brings nodes up in, and which nodes the load balancer may
 * send users to, are decided here once, so the three procedures and the dry run cannot disagree.
 * Pure code: it runs in the workflow sandbox, in activities and in the config loader alike.
 */

export const NODE_ROLES = ['app', 'worker'] as const;

export type NodeRole = (typeof NODE_ROLES)[number];

/** A node as a procedure sees it; a node without a role (a plan recorded before roles) is an app node. */
export interface RoledNode {
  name: string;
  role?: NodeRole | undefined;
}

export interface NodeOrder<Node extends RoledNode> {
  /**
   * The first app node: started alone while the database may be installed or upgraded, and the
   * node kept serving during in-app maintenance. Undefined only when there is no app node, which
   * the config refuses.
   */
  first: Node | undefined;
  /** The other app nodes, in config order: started once `first` is ready; they take traffic. */
  otherApps: Node[];
  /**
   * WORKER_MODE nodes, in config order: stopped like the others, started last (once every app
   * node is ready, so none of them runs an upgrade), never given load-balancer traffic.
   */
  workers: Node[];
}

export function roleOf(node: RoledNode): NodeRole {
  return node.role ?? 'app';
}

/** First app node, the other app nodes, then the workers; config order within each group. */
export function orderNodes<Node extends RoledNode>(nodes: readonly Node[]): NodeOrder<Node> {
  const [first, ...otherApps] = nodes.filter((node) => roleOf(node) === 'app');
  return { first, otherApps, workers: nodes.filter((node) => roleOf(node) === 'worker') };
}

/** The nodes that serve users, i.e. the only ones a procedure puts into the load balancer. */
export function appNodes<Node extends RoledNode>(order: NodeOrder<Node>): Node[] {
  return order.first ? [order.first, ...order.otherApps] : [...order.otherApps];
}

/** Every node in the order it comes back: first app node, other app nodes, workers last. */
export function startOrder<Node extends RoledNode>(order: NodeOrder<Node>): Node[] {
  return [...appNodes(order), ...order.workers];
}

/** Why a cluster without any app node cannot be run, in words for config errors and dry runs. */
export function noAppNodeProblem(cluster: string): string {
  return `cluster "${cluster}" has no app node: every node is role: worker (WORKER_MODE, no user traffic), so none could be started first, serve users or be kept running during in-app maintenance; give at least one node role: app (the default)`;
}

/**
 * The order as a dry run shows it, one line per node: the app node started alone first (and kept
 * serving during in-app maintenance), the other app nodes, then the workers. Empty when there is
 * no app node (a problem the dry run lists).
 */
export function describeStartOrder(nodes: readonly RoledNode[]): string[] {
  const order = orderNodes(nodes);
  if (!order.first) return [];
  return [
    `${order.first.name} (app): first and alone; the node kept serving during in-app maintenance`,
    ...order.otherApps.map((node) => `${node.name} (app): once ${order.first?.name} is ready`),
    ...order.workers.map((node) => `${node.name} (worker): last, once every app node is ready; never in the load balancer`),
  ];
}

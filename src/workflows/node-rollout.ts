import { longRunning, quick } from './activity-options';
import type { ProcedureTracker } from './procedure-tracker';

/**
 * Starts nodes the way NocoBase's cluster guide demands whenever the recorded version may differ
 * from the image's (every start of the official image runs the upgrade, with no lock): the first
 * alone until it is ready, then the others in parallel. Idempotent, so it also serves as a
 * compensation after a rollback restored the old data.
 */
export async function startFirstThenOthers(
  cluster: string,
  nodes: string[],
  tracker: ProcedureTracker,
  expectVersion: string | null = null,
): Promise<void> {
  const [first, ...others] = nodes;
  if (!first) return;
  const start = async (node: string, requirePlugins: boolean) => {
    tracker.node(node, 'starting');
    await quick.startNode({ cluster, node });
    await longRunning.waitNodeReady({ cluster, node, requirePlugins, expectVersion });
    tracker.node(node, 'ready');
  };
  await start(first, true);
  await Promise.all(others.map((node) => start(node, false)));
}

/**
 * Starts nodes in parallel and waits until each is healthy: for nodes that join a database another
 * node already serves at their own version. Idempotent.
 */
export async function startNodes(cluster: string, nodes: string[], tracker: ProcedureTracker): Promise<void> {
  await Promise.all(
    nodes.map(async (node) => {
      tracker.node(node, 'starting');
      await quick.startNode({ cluster, node });
      await longRunning.waitNodeReady({ cluster, node, requirePlugins: false });
      tracker.node(node, 'ready');
    }),
  );
}

/**
 * Gives traffic back to the nodes: servers ready, wait until HAProxy sees them UP, then the
 * maintenance page off and the public URL answering 200. Idempotent.
 */
export async function restoreTraffic(cluster: string, nodes: string[]): Promise<void> {
  if (nodes.length > 0) {
    await quick.setLoadBalancerServers({ cluster, nodes, state: 'ready' });
    await longRunning.waitLoadBalancerServing({ cluster, nodes, publicUrl: false });
  }
  await quick.setMaintenanceMode({ cluster, on: false });
  if (nodes.length > 0) await longRunning.waitLoadBalancerServing({ cluster, nodes });
}

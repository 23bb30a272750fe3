import { ApplicationFailure, CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import { noAppNodeProblem, orderNodes, type NodeOrder } from '../common/node-order';
import type { NodeReadiness, NodeSnapshot } from '../common/procedure-types';
import type { HoldLoadBalancerInput } from '../activities/load-balancer/hold';
import { longRunning, quick, watching } from './activity-options';
import type { ProcedureTracker } from './procedure-tracker';
import { describeFailure } from './saga';

export interface Readiness {
  /** Also wait until every built-in plugin is installed and enabled (a node that installs or upgrades). */
  requirePlugins: boolean;
  /** The application version the database must record once the node is ready. */
  expectVersion?: string | null;
}

/**
 * Starts one node and waits until it is ready, keeping the status's node table true. The one way
 * every procedure and every undo brings a node up. Idempotent: a started node starts again as a no-op.
 */
export async function bringUp(cluster: string, node: string, tracker: ProcedureTracker, readiness: Readiness): Promise<NodeReadiness> {
  tracker.node(node, 'starting');
  await quick.startNode({ cluster, node });
  const ready = await longRunning.waitNodeReady({ cluster, node, ...readiness });
  tracker.node(node, 'ready');
  return ready;
}

/**
 * Runs one branch per item at once, as a structured step: when a branch fails, its siblings are
 * cancelled and the step ends only once every branch has settled (their activities are cancelled
 * with WAIT_CANCELLATION_COMPLETED), so the undo that follows never races forward work still in
 * flight (node 3 ending on the new image, or old node 3 booting on data not yet restored).
 * Fails with the first branch's own failure, not a sibling's cancellation.
 */
export async function inParallel<T, R>(items: readonly T[], branch: (item: T) => Promise<R>): Promise<R[]> {
  // Runs recorded before parallel steps were structured rejected at the first failure; they replay so.
  if (!patched('structured-parallel-steps')) return Promise.all(items.map(branch));
  const scope = new CancellationScope();
  let first: { error: unknown } | undefined;
  const settled = await scope.run(() =>
    Promise.allSettled(
      items.map((item) =>
        branch(item).catch((error: unknown) => {
          if (!first && !(isCancellation(error) && scope.consideredCancelled)) {
            first = { error };
            scope.cancel();
          }
          throw error;
        }),
      ),
    ),
  );
  if (first) throw first.error;
  const cancelled = settled.find((outcome) => outcome.status === 'rejected');
  if (cancelled) throw cancelled.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<R>).value);
}

/** Stops nodes in parallel, keeping the node table true. Idempotent. */
export async function stopNodes(cluster: string, nodes: string[], tracker: ProcedureTracker): Promise<void> {
  await inParallel(nodes, async (node) => {
    tracker.node(node, 'stopping');
    await quick.stopNode({ cluster, node });
    tracker.node(node, 'stopped');
  });
}

/**
 * Starts nodes the way NocoBase's cluster guide demands whenever the recorded version may differ
 * from the image's (every start of the official image runs the upgrade, with no lock): the first
 * alone until it is ready, then the other app nodes in parallel, then the `workers` (WORKER_MODE
 * nodes come back last and never get traffic). Used as a rollback's undo, so one sick node must
 * not keep the cluster behind the maintenance page: once `quorum` app nodes serve, the sick ones
 * are taken out of the load balancer and reported as failed (a sick worker is only reported).
 * Returns the app nodes that serve. Idempotent.
 */
export async function startFirstThenOthers(cluster: string, nodes: string[], tracker: ProcedureTracker, quorum = nodes.length, workers: string[] = []): Promise<string[]> {
  // Without any app node running, a worker is the one that starts alone.
  const [first, ...rest] = [...nodes, ...workers];
  if (!first) return [];
  await bringUp(cluster, first, tracker, { requirePlugins: true, expectVersion: null });
  const others = rest.filter((node) => !workers.includes(node));
  const sick = await startSettled(cluster, others, tracker);
  const lastly = rest.filter((node) => workers.includes(node));
  const sickWorkers = lastly.length > 0 ? await startSettled(cluster, lastly, tracker) : [];
  const serving = nodes.filter((node) => !sick.some((entry) => entry.node === node));
  for (const { node } of [...sick, ...sickWorkers]) tracker.node(node, 'failed');
  if (serving.length < quorum) {
    // Retryable: the rollback tries again until its deadline, then a person is asked.
    throw ApplicationFailure.retryable(
      `only ${serving.length} of ${nodes.length} nodes serve the previous version, ${quorum} needed: ${sick.map((entry) => `${entry.node}: ${entry.why}`).join('; ')}`,
      FailureType.NodeNotReady,
    );
  }
  if (sick.length > 0) {
    await tracker.watchesStopped();
    await quick.setLoadBalancerServers({ cluster, nodes: sick.map((entry) => entry.node), state: 'maint' });
  }
  return serving;
}

/** Brings nodes up together and lists the ones that did not become ready, with why. */
async function startSettled(cluster: string, nodes: string[], tracker: ProcedureTracker): Promise<{ node: string; why: string }[]> {
  const outcomes = await Promise.allSettled(nodes.map((node) => bringUp(cluster, node, tracker, { requirePlugins: false, expectVersion: null })));
  return nodes.flatMap((node, index) => (outcomes[index]?.status === 'rejected' ? [{ node, why: describeFailure((outcomes[index] as PromiseRejectedResult).reason) }] : []));
}

/**
 * Starts nodes in parallel and waits until each is ready: for nodes that join a database another
 * node already serves at their own version. Idempotent.
 */
export async function startNodes(cluster: string, nodes: string[], tracker: ProcedureTracker, readiness: Readiness = { requirePlugins: false }): Promise<NodeReadiness[]> {
  return inParallel(nodes, (node) => bringUp(cluster, node, tracker, readiness));
}

/**
 * Starts the other app nodes together, then the workers: a WORKER_MODE node comes back last, once
 * every app node is ready. Both groups join a database another node already serves at their own
 * version. Idempotent.
 */
export async function startAppsThenWorkers(cluster: string, apps: string[], workers: string[], tracker: ProcedureTracker, readiness?: Readiness): Promise<NodeReadiness[]> {
  const ready = await startNodes(cluster, apps, tracker, readiness);
  if (workers.length === 0) return ready;
  return [...ready, ...(await startNodes(cluster, workers, tracker, readiness))];
}

/**
 * The plan's nodes in the order they come back (first app node, other app nodes, workers; see
 * src/common/node-order.ts). Runs recorded before roles existed replay with every node an app
 * node, as they ran. No app node (which the config refuses) is Misconfigured.
 */
export function rolloutOrder<Node extends NodeSnapshot>(cluster: string, nodes: readonly Node[]): NodeOrder<Node> & { first: Node } {
  const roled = patched('worker-nodes-last') ? nodes : nodes.map((node) => ({ ...node, role: 'app' as const }));
  const order = orderNodes(roled);
  const { first } = order;
  if (!first) throw ApplicationFailure.nonRetryable(nodes.length === 0 ? `cluster ${cluster} has no nodes` : noAppNodeProblem(cluster), FailureType.Misconfigured);
  return { ...order, first };
}

/**
 * Gives traffic back to the nodes: servers ready, wait until HAProxy sees them UP, then the
 * maintenance page off and the public URL answering 200. `onServing` runs just before the page is
 * asked to go: users may reach the nodes from the moment HAProxy's memory switches, and the switch
 * may fail after that (the map file a reload reads could not be written), or its answer be lost.
 * Idempotent.
 */
export async function restoreTraffic(tracker: ProcedureTracker, cluster: string, nodes: string[], onServing?: () => void): Promise<void> {
  await tracker.watchesStopped();
  if (nodes.length > 0) {
    await quick.setLoadBalancerServers({ cluster, nodes, state: 'ready' });
    await longRunning.waitLoadBalancerServing({ cluster, nodes, publicUrl: false });
  }
  // Runs recorded before passed the point only once the switch had succeeded, and replay so.
  const beforeSwitch = onServing !== undefined && patched('point-of-no-return-before-switch');
  if (beforeSwitch) onServing();
  await quick.setMaintenanceMode({ cluster, on: false });
  if (!beforeSwitch) onServing?.();
  if (nodes.length > 0) await longRunning.waitLoadBalancerServing({ cluster, nodes });
}

/**
 * Runs `body` (a wait for people) while a watch keeps the load balancer as the procedure set it:
 * a reload (certificate renewal, config push) during a two-hour approval wait must neither drop
 * the maintenance page nor send users to the unapproved node. What drifted is put back and
 * reported in the status.
 */
export async function whileHolding<T>(tracker: ProcedureTracker, wanted: HoldLoadBalancerInput, body: () => Promise<T>): Promise<T> {
  // Runs recorded before the watch existed replay without it.
  if (!patched('hold-load-balancer')) return body();
  const scope = new CancellationScope();
  const stopped = scope
    .run(() => watching.holdLoadBalancer(wanted))
    .then(
      (report) => {
        if (report.drifts.length > 0) tracker.status.loadBalancerDrifts = report.drifts;
      },
      () => undefined,
    );
  try {
    return await body();
  } finally {
    scope.cancel();
    // The watch learns of its cancellation from a heartbeat's answer, seconds later; waiting for
    // it here put those seconds into every 503 window. Now it is also released in its worker
    // process, where it ends at once (the usual case of one worker), what follows the decision
    // (the other nodes, or the rollback) goes on meanwhile, and only the next change of the load
    // balancer (tracker.watchesStopped()) waits until the watch can no longer put its state back.
    // Runs recorded before waited here, and replay so.
    if (patched('let-go-of-watch-lazily')) {
      const released = CancellationScope.nonCancellable(() => quick.releaseLoadBalancerHold({ cluster: wanted.cluster })).catch(() => undefined);
      tracker.lettingGoOfWatch(Promise.all([stopped, released]).then(() => undefined));
    } else await stopped;
  }
}

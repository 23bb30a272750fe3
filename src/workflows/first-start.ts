import type { NodeReadiness, NotificationOutcome } from '../common/procedure-types';
import { FIRST_START, type FirstStartInput } from '../procedures/first-start';
import { longRunning, quick } from './activity-options';
import type { DryRunPlan } from './dry-run';
import { bringUp, rolloutOrder, startAppsThenWorkers } from './node-rollout';
import { commonPreflight } from './preflight';
import { runProcedure } from './procedure';

export type { FirstStartInput } from '../procedures/first-start';

export interface FirstStartResult {
  cluster: string;
  firstNode: string;
  nodes: NodeReadiness[];
  loadBalancer: { server: string; status: string }[];
  notification: NotificationOutcome;
  steps: { step: string; startedAt: string; endedAt?: string }[];
}

/**
 * First start of a cluster, as NocoBase's cluster guide prescribes: one app node alone until it
 * has installed the application and its plugins (two nodes installing one database at once
 * corrupt it), then the other app nodes in parallel, the WORKER_MODE nodes last, then traffic to
 * the app nodes only.
 *
 * Side effects: starts containers, enables load-balancer servers, sends an email. On failure it
 * stops every node it started and takes them out of the load balancer, then fails with the
 * failure type of the step that broke.
 */
export async function firstStart(rawInput: FirstStartInput): Promise<FirstStartResult | DryRunPlan> {
  const input = FIRST_START.checkInput(rawInput);
  const { cluster } = input;
  return runProcedure({
    descriptor: FIRST_START,
    input,
    undoFailureIsFatal: false,
    wording: {
      title: `the first start of ${cluster}`,
      undone: 'the nodes it started were stopped again',
      undoFailed: 'stopping the nodes it started failed',
      subject: (_broken, step) => `first start FAILED at ${step}`,
    },
    async steps(run) {
      const { step, undo, tracker } = run;
      const { plan } = await step('preflight', async () => {
        const checked = await commonPreflight(FIRST_START, input, tracker);
        await longRunning.ensureImages({ cluster, images: checked.plan.nodes.map((node) => node.image) });
        return checked;
      });
      run.adopt(plan);
      const order = rolloutOrder(cluster, plan.nodes);
      const first = order.first.name;
      const otherApps = order.otherApps.map((node) => node.name);
      const workers = order.workers.map((node) => node.name);
      const others = [...otherApps, ...workers];
      // Only app nodes serve users; a worker has no place in the load balancer.
      const names = [first, ...otherApps];

      const firstReady = await step('start-first-node', () => {
        undo(`stop ${first}`, () => quick.stopNode({ cluster, node: first }));
        tracker.waitingFor(`${first} to install or upgrade the application and enable its plugins`);
        return bringUp(cluster, first, tracker, { requirePlugins: true });
      });

      const othersReady = await step('start-other-nodes', () => {
        for (const node of others) undo(`stop ${node}`, () => quick.stopNode({ cluster, node }));
        tracker.waitingFor(`${others.join(', ')} to become healthy${workers.length > 0 ? ` (the workers ${workers.join(', ')} last)` : ''}`);
        return startAppsThenWorkers(cluster, otherApps, workers, tracker);
      });

      const loadBalancer = await step('enable-load-balancer', async () => {
        undo('take the nodes out of the load balancer', () => quick.setLoadBalancerServers({ cluster, nodes: names, state: 'maint' }));
        tracker.waitingFor('the load balancer to report every node UP');
        await quick.setMaintenanceMode({ cluster, on: false });
        await quick.setLoadBalancerServers({ cluster, nodes: names, state: 'ready' });
        return longRunning.waitLoadBalancerServing({ cluster, nodes: names });
      });
      tracker.waitingFor(undefined);

      return {
        mail: () => ({ subject: 'first start succeeded', text: `All ${names.length} ${workers.length > 0 ? 'app ' : ''}nodes of ${cluster} are serving behind the load balancer: ${names.join(', ')}.${workerLine(workers)}` }),
        result: (notification) => ({ cluster, firstNode: first, nodes: [firstReady, ...othersReady], loadBalancer, notification, steps: tracker.status.steps }),
      };
    },
  });
}

function workerLine(workers: string[]): string {
  return workers.length > 0 ? ` Worker nodes (WORKER_MODE, no user traffic) running: ${workers.join(', ')}.` : '';
}

/**
 * Downtime vs floor: how long users see the 503 page during an approved version upgrade of a
 * stack cluster (`standin` by default; `demo` runs real NocoBase and takes minutes), against what
 * the work itself needs. An outside prober fetches the load
 * balancer every 50 ms; the bench approves the moment the status query says `awaiting`, and that
 * wait (query → the server's signal event) is the human's share, taken out. The floor, from the
 * same run's history (activities' own Started → Completed times): the backup (database and
 * storage) + the first node's image replacement, start and wait until ready + the slowest other
 * node's same three. Target: window − decision ≤ 1.05 × floor + 1 s. The second table shows
 * where the rest goes, step by step, within the window.
 *
 *   bash scripts/with-deps.sh tsx bench/upgrade-downtime.ts [runs] [standin,demo]
 */
import { machineFacts, percent, ratio, seconds, table, writeResults } from './support/report';
import { benchCluster, freshCluster, outageWindow, removeBackups, startBenchStack, upgradeOnce, type BenchCluster, type UpgradeRun } from './support/upgrade-runs';
import { activityIntervals, ownMs, unionMs, type ActivityRun, type Interval } from './support/timeline';

const runs = Number(process.argv[2] ?? 1);
const clusters = (process.argv[3] ?? 'standin').split(',') as BenchCluster['name'][];
/** Activities that wait alongside the human instead of doing work. */
const WATCHES = new Set(['holdLoadBalancer']);

interface Figures {
  cluster: string;
  windowMs: number;
  decisionMs: number;
  backupMs: number;
  firstNodeMs: number;
  otherNodesMs: number;
  floorMs: number;
  /** Inside the window, only the cancelled load-balancer watch was running (waiting to learn of its cancellation). */
  watchOnlyMs: number;
  steps: string[][];
  statuses: string[];
}

/** Total length of `intervals` inside `segments` (the window with the human's decision cut out). */
function inside(intervals: Interval[], segments: Interval[]): number {
  return segments.reduce((total, [from, to]) => total + unionMs(intervals, from, to), 0);
}

function figures(cluster: string, run: UpgradeRun): Figures {
  const window = outageWindow(run.probes);
  if (!window) throw new Error('the prober never saw the maintenance page');
  const decision: Interval = [run.awaitingSeenAt, run.decidedAt];
  const segments: Interval[] = [
    [window.from, Math.min(window.to, decision[0])],
    [Math.max(window.from, decision[1]), window.to],
  ];
  const activities = run.timeline.activities.filter((activity) => !WATCHES.has(activity.type));
  const of = (type: string, node?: string, after?: number) =>
    activities.filter((activity) => activity.type === type && (node === undefined || activity.node === node) && (after === undefined || activity.scheduledAt >= after));
  const sum = (list: ActivityRun[]) => list.reduce((total, activity) => total + ownMs(activity), 0);
  const nodeChain = (node: string, before: boolean) =>
    ['replaceNodeImage', 'startNode', 'waitNodeReady'].flatMap((type) =>
      of(type, node).filter((activity) => (before ? activity.scheduledAt < run.decidedAt : activity.scheduledAt >= run.decidedAt)),
    );

  const first = of('replaceNodeImage')[0]?.node;
  if (!first) throw new Error('no image replacement in the history');
  const others = [...new Set(of('replaceNodeImage', undefined, run.decidedAt).map((activity) => activity.node!))].filter((node) => node !== first);
  const backup = [...of('backupDatabase'), ...of('backupStorage')];
  const firstChain = nodeChain(first, true);
  const otherChains = others.map((node) => sum(nodeChain(node, false)));
  const otherNodesMs = Math.max(0, ...otherChains);
  const floorOfStep: Record<string, number> = {
    backup: sum(backup),
    'update-image': sum(firstChain.filter((activity) => activity.type === 'replaceNodeImage')),
    'start-first-node': sum(firstChain.filter((activity) => activity.type !== 'replaceNodeImage')),
    'start-other-nodes': otherNodesMs,
  };

  const intervals = activityIntervals(activities);
  const withWatches = activityIntervals(run.timeline.activities);
  const steps: string[][] = [];
  const stepIntervals: Interval[] = [];
  let watchOnlyMs = 0;
  for (const step of run.result.steps) {
    const span: Interval = [Date.parse(step.startedAt), Date.parse(step.endedAt ?? step.startedAt)];
    stepIntervals.push(span);
    const clipped = segments.map(([from, to]) => [Math.max(from, span[0]), Math.min(to, span[1])] as Interval).filter(([from, to]) => to > from);
    const inWindow = clipped.reduce((total, [from, to]) => total + to - from, 0);
    if (inWindow <= 0) continue;
    const busy = inside(intervals, clipped);
    const watchOnly = inside(withWatches, clipped) - busy;
    watchOnlyMs += watchOnly;
    const floor = Math.min(floorOfStep[step.step] ?? 0, busy);
    const types = [...new Set(run.timeline.activities.filter((activity) => inside(activityIntervals([activity]), clipped) > 0).map((activity) => activity.type))];
    steps.push([step.step, seconds(inWindow), seconds(floor), seconds(busy - floor), seconds(watchOnly), seconds(inWindow - busy - watchOnly), types.join(', ')]);
  }
  // Between steps: the workflow's own turns; at the window's edges: the prober's 50 ms resolution.
  const between = segments.reduce((total, [from, to]) => total + (to - from), 0) - inside(stepIntervals, segments);
  steps.push(['(between steps, and the prober\'s resolution)', seconds(between), '', '', '', seconds(between), '']);

  const windowMs = window.to - window.from;
  const decisionMs = Math.max(0, Math.min(decision[1], window.to) - Math.max(decision[0], window.from));
  return {
    cluster,
    windowMs,
    decisionMs,
    backupMs: floorOfStep.backup ?? 0,
    firstNodeMs: (floorOfStep['update-image'] ?? 0) + (floorOfStep['start-first-node'] ?? 0),
    otherNodesMs,
    watchOnlyMs,
    floorMs: (floorOfStep.backup ?? 0) + (floorOfStep['update-image'] ?? 0) + (floorOfStep['start-first-node'] ?? 0) + otherNodesMs,
    steps,
    statuses: window.statuses,
  };
}

async function main(): Promise<void> {
  const facts = await machineFacts();
  const stack = await startBenchStack();
  const measured: Figures[] = [];
  try {
    for (const name of clusters) {
      const cluster = benchCluster(name);
      for (let index = 1; index <= runs; index++) {
        await freshCluster(stack, cluster);
        const run = await upgradeOnce(stack, 'approve', {}, cluster);
        if (run.result.outcome !== 'upgraded') throw new Error(`the upgrade ended ${run.result.outcome}`);
        measured.push(figures(name, run));
        await removeBackups(run.result);
        process.stderr.write(`${name}: run ${index}/${runs} done\n`);
      }
      // Left as stack:up leaves it: containers created, not started.
      await cluster.reset();
    }
  } finally {
    await stack.close();
  }

  const summary = table(
    ['cluster', 'run', '503 window', 'decision (human)', 'window − decision', 'floor', 'backup', 'node 1 upgrade + boot', 'other nodes boot', 'ratio', 'target 1.05 × floor + 1 s', 'verdict'],
    measured.map((figure, index) => {
      const net = figure.windowMs - figure.decisionMs;
      const target = 1.05 * figure.floorMs + 1_000;
      return [
        figure.cluster,
        String((index % runs) + 1),
        seconds(figure.windowMs),
        seconds(figure.decisionMs),
        seconds(net),
        seconds(figure.floorMs),
        seconds(figure.backupMs),
        seconds(figure.firstNodeMs),
        seconds(figure.otherNodesMs),
        ratio(net / figure.floorMs),
        seconds(target),
        net <= target ? 'within' : `over by ${seconds(net - target)} (${percent((net - target) / net)} of the window)`,
      ];
    }),
  );
  const lastOf = clusters.map((name) => measured.filter((figure) => figure.cluster === name).at(-1)!);
  const steps = (last: Figures) => table(['step (inside the window, decision excluded)', 'in window', 'floor work', 'other activities', 'only the watch, until it learns it is cancelled', 'no activity running', 'activities'], last.steps);
  const title = `Downtime vs floor: approved versionUpgrade of ${clusters.map((name) => (name === 'demo' ? 'the 3-node real NocoBase cluster (demo)' : 'the 3-node stand-in cluster')).join(' and ')}`;
  // One file per set of clusters: a real-NocoBase run (minutes) does not replace the stand-in's table.
  writeResults(clusters.join(',') === 'standin' ? 'upgrade-downtime' : `upgrade-downtime-${clusters.join('-')}`, title, [
    facts,
    summary,
    measured
      .map((figure) => {
        const net = figure.windowMs - figure.decisionMs - figure.watchOnlyMs;
        return `${figure.cluster}: of the window, ${seconds(figure.watchOnlyMs)} is the load-balancer watch learning of its cancellation; without it the window − decision would be ${seconds(net)}, ${ratio(net / figure.floorMs)} the floor (${net <= 1.05 * figure.floorMs + 1_000 ? 'within' : 'over'} the target).`;
      })
      .join('\n\n'),
    `Where the window goes (the last run of each cluster): "floor work" is the floor's activities, "other activities" the procedure's other activities (stopping nodes, the load balancer, checks, mail); the load-balancer watch (holdLoadBalancer) runs beside the human's wait and is cancelled (and released in its worker process) by the decision; only the next load-balancer change waits until it has stopped, so "only the watch" is time nothing but that wait ran; "no activity running" is the time between activities (workflow tasks, scheduling).`,
    ...lastOf.flatMap((last) => [`${last.cluster} (answers the prober saw during the window: ${last.statuses.join(', ')}):`, steps(last)]),
  ]);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

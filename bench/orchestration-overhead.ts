/**
 * Orchestration overhead: a procedure's wall time (the history's WorkflowExecutionStarted →
 * closed) minus the time during which at least one of its activities was running (the UNION of
 * their Started → Closed intervals, so parallel activities count once), as a share of the wall
 * time. What remains is Temporal's and the workflow's own: workflow tasks, activity scheduling
 * (Scheduled → Started), and the gaps between them. For an upgrade the human's decision (the
 * bench's status query that first said `awaiting` → the server's signal event) is cut out of both,
 * and the load-balancer watch that only waits beside the human is not counted as work.
 * Target ≤ 3 %. Runs: firstStart, an approved versionUpgrade, and a rejected one (its rollback).
 * Local activities count as activities (their own times come from the worker's timings file).
 *
 *   bash scripts/with-deps.sh tsx bench/orchestration-overhead.ts [standin,demo]
 *
 * `demo` is the 3-node real NocoBase cluster: minutes per procedure instead of seconds, and its
 * own results file.
 */
import { machineFacts, percent, seconds, table, writeResults } from './support/report';
import { benchCluster, freshCluster, removeBackups, startBenchStack, upgradeOnce, type BenchCluster } from './support/upgrade-runs';
import { activityIntervals, unionMs, type Interval, type Timeline } from './support/timeline';

const WATCHES = new Set(['holdLoadBalancer']);
const clusters = (process.argv[2] ?? 'standin').split(',') as BenchCluster['name'][];
const LABEL = { standin: 'stand-in', demo: 'real NocoBase' } as const;
const TARGET = 0.03;

function overhead(name: string, timeline: Timeline, decision?: Interval): string[] {
  const closedAt = timeline.closedAt ?? Date.now();
  const segments: Interval[] = decision
    ? [
        [timeline.startedAt, decision[0]],
        [decision[1], closedAt],
      ]
    : [[timeline.startedAt, closedAt]];
  const wall = segments.reduce((total, [from, to]) => total + Math.max(0, to - from), 0);
  const activities = timeline.activities.filter((activity) => !WATCHES.has(activity.type));
  const busy = segments.reduce((total, [from, to]) => total + unionMs(activityIntervals(activities), from, to), 0);
  const queued = activities.filter((activity) => activity.startedAt !== undefined && !activity.local).map((activity) => activity.startedAt! - activity.scheduledAt);
  const sortedQueue = [...queued].sort((a, b) => a - b);
  const tasks = timeline.workflowTasks.filter((task) => task.completedAt !== undefined).map((task) => task.completedAt! - task.scheduledAt);
  const share = (wall - busy) / wall;
  return [
    name,
    seconds(wall),
    seconds(busy),
    seconds(wall - busy),
    percent(share),
    share <= TARGET ? 'within' : 'over',
    `${activities.length} (${activities.filter((activity) => activity.local).length} local)`,
    `${sortedQueue[Math.floor(sortedQueue.length / 2)] ?? 0} / ${sortedQueue.at(-1) ?? 0} ms`,
    `${tasks.length}, ${seconds(tasks.reduce((total, ms) => total + ms, 0))}`,
    decision ? seconds(decision[1] - decision[0]) : '–',
  ];
}

async function main(): Promise<void> {
  const facts = await machineFacts();
  const stack = await startBenchStack();
  const rows: string[][] = [];
  try {
    for (const name of clusters) {
      const cluster = benchCluster(name);
      const label = (procedure: string) => `${procedure} (${LABEL[name]})`;
      const started = await freshCluster(stack, cluster);
      rows.push(overhead(label('firstStart'), started.timeline));
      const approved = await upgradeOnce(stack, 'approve', {}, cluster);
      rows.push(overhead(label(`versionUpgrade, approved: ${approved.result.outcome}`), approved.timeline, [approved.awaitingSeenAt, approved.decidedAt]));
      await removeBackups(approved.result);
      await freshCluster(stack, cluster);
      const rejected = await upgradeOnce(stack, 'reject', {}, cluster);
      rows.push(overhead(label(`versionUpgrade, rejected: ${rejected.result.outcome}`), rejected.timeline, [rejected.awaitingSeenAt, rejected.decidedAt]));
      await removeBackups(rejected.result);
      await cluster.reset();
    }
  } finally {
    await stack.close();
  }
  // One file per set of clusters: a real-NocoBase run does not replace the stand-in's table.
  writeResults(clusters.join(',') === 'standin' ? 'orchestration-overhead' : `orchestration-overhead-${clusters.join('-')}`, 'Orchestration overhead: wall time not covered by any activity', [
    facts,
    table(
      ['procedure (3 nodes)', 'wall (decision excluded)', 'activities (union)', 'overhead', 'share', 'target ≤ 3 %', 'activities run', 'schedule → start (ordinary), median / max', 'workflow tasks, their time (with the local activities in them)', 'decision cut out'],
      rows,
    ),
  ]);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

import type { StandinEvent } from '../../scripts/stack/demo-cluster';

/**
 * The tests' observer of concurrent installs and upgrades. Real NocoBase (and so the stand-in)
 * has no lock: two nodes starting on one database both run the install or the upgrade, and
 * nothing refuses it. What shows it is each node's events file: an `installing`/`upgrading`
 * event opens a span, the same process's `installed`/`install-failed`/`upgraded`/`upgrade-failed`
 * or `stop` closes it. A process killed mid-way (no closing event) is taken to have worked until
 * its container's next event from another process, or until now.
 */
export interface MaintenanceSpan {
  container: string;
  node: string;
  pid: number;
  kind: 'install' | 'upgrade';
  from: number;
  to: number;
  /** The closing event, or null when the process never recorded one. */
  outcome: string | null;
}

const OPENS: Record<string, MaintenanceSpan['kind']> = { installing: 'install', upgrading: 'upgrade' };
const CLOSES = new Set(['installed', 'install-failed', 'upgraded', 'upgrade-failed', 'stop']);

export function maintenanceSpans(eventsByContainer: Record<string, readonly StandinEvent[]>): MaintenanceSpan[] {
  const spans: MaintenanceSpan[] = [];
  for (const [container, events] of Object.entries(eventsByContainer)) {
    events.forEach((opening, index) => {
      const kind = OPENS[opening.event];
      if (!kind) return;
      const rest = events.slice(index + 1);
      const closing = rest.find((event) => event.pid === opening.pid && CLOSES.has(event.event));
      const successor = rest.find((event) => event.pid !== opening.pid);
      const end = closing ?? successor;
      spans.push({
        container, node: opening.node, pid: opening.pid, kind,
        from: Date.parse(opening.at),
        to: end ? Date.parse(end.at) : Number.POSITIVE_INFINITY,
        outcome: closing ? closing.event : null,
      });
    });
  }
  return spans.sort((a, b) => a.from - b.from);
}

/** Every pair of spans, on different containers, that ran at the same time. */
export function overlappingSpans(spans: readonly MaintenanceSpan[]): [MaintenanceSpan, MaintenanceSpan][] {
  const pairs: [MaintenanceSpan, MaintenanceSpan][] = [];
  spans.forEach((a, i) => {
    for (const b of spans.slice(i + 1)) {
      if (a.container !== b.container && a.from < b.to && b.from < a.to) pairs.push([a, b]);
    }
  });
  return pairs;
}

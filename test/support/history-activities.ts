import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface HistoryActivity {
  activity: string;
  /** The node it worked on: an activity's input `node`; a local activity's result `node` or `name`. */
  node?: string;
  /** A local activity: recorded (as a marker) once it has run, with its result but not its input. */
  local: boolean;
  /** Its event's position in the history. */
  index: number;
}

function json(data: Uint8Array | null | undefined): Record<string, unknown> {
  if (!data) return {};
  try {
    const value: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/**
 * Every activity of a decoded history, in history order: ActivityTaskScheduled events and the
 * markers of local activities (the quick steps, see LOCAL_STEPS in src/workflows/activity-options.ts).
 */
export function historyActivities(events: HistoryEvent[]): HistoryActivity[] {
  return events.flatMap((event, index): HistoryActivity[] => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const node = text(json(scheduled.input?.payloads?.[0]?.data).node);
      return [{ activity: scheduled.activityType?.name ?? '', ...(node ? { node } : {}), local: false, index }];
    }
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') return [];
    const activity = text(json(marker.details?.data?.payloads?.[0]?.data).activity_type) ?? '';
    const result = json(marker.details?.result?.payloads?.[0]?.data);
    const node = text(result.node) ?? text(result.name);
    return [{ activity, ...(node ? { node } : {}), local: true, index }];
  });
}

import { blackoutAt, localDate, type Period } from '../../common/blackout';
import { getCluster } from './lookup';
import type { ActivityDeps } from '../deps';

export interface BlackoutCheck {
  /** Today in the cluster's time zone. */
  today: string;
  timeZone: string;
  /** The blackout period today falls in, if any. */
  period: Period | null;
}

export function createBlackoutActivities(deps: ActivityDeps) {
  return {
    /**
     * Whether today (in the cluster's time zone) is a blackout day. An activity, not workflow
     * code, because it reads configuration and the wall clock. Read-only; safe to retry.
     */
    async checkBlackout(input: { cluster: string }): Promise<BlackoutCheck> {
      const cluster = getCluster(deps, input.cluster);
      const now = new Date();
      return { today: localDate(now, cluster.timeZone), timeZone: cluster.timeZone, period: blackoutAt(cluster.blackout, now, cluster.timeZone) ?? null };
    },
  };
}

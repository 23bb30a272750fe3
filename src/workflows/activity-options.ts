import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

/**
 * Named presets instead of ad-hoc timeouts at each call. `quick` is for reads and single Docker or
 * HAProxy commands; `preflight` gives up fast so a bad start fails before anything is touched;
 * `longRunning` is for waits and pulls that heartbeat, so a dead worker is noticed in 30s
 * while the wait itself may take many minutes (its own deadline comes from cluster config).
 */
export const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});

export const preflight = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 3 },
});

export const longRunning = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

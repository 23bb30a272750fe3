import type { Client } from '@temporalio/client';
import { log } from '@temporalio/activity';

/** From which step to which step a procedure keeps users away (or the cluster short of nodes). */
const WINDOWS: Record<string, [string, string]> = {
  firstStart: ['preflight', 'enable-load-balancer'],
  versionUpgrade: ['maintenance-page', 'restore-traffic'],
  inAppMaintenance: ['reduce-to-one-node', 'restore-nodes'],
};

interface StepTimes {
  step: string;
  startedAt: string;
  endedAt?: string;
}

export interface DowntimeEstimate {
  /** Median of the window over the last successful runs; null without history. */
  expectedMs: number | null;
  basedOnRuns: number;
}

export function createHistoryActivities(deps: { temporal?: Client }) {
  return {
    /**
     * How long the window (maintenance page for an upgrade, one node for in-app maintenance) lasted
     * in this cluster's last successful runs of the procedure, read from Temporal's own history.
     * Read-only; safe to retry; null when the worker has no Temporal client or there is no history.
     */
    async recentWindow(input: { cluster: string; procedure: string }): Promise<DowntimeEstimate> {
      const window = WINDOWS[input.procedure];
      if (!deps.temporal || !window) return { expectedMs: null, basedOnRuns: 0 };
      const durations: number[] = [];
      try {
        const query = `NocobaseCluster = '${input.cluster}' AND WorkflowType = '${input.procedure}' AND ExecutionStatus = 'Completed'`;
        for await (const execution of deps.temporal.workflow.list({ query, pageSize: 10 })) {
          const result = (await deps.temporal.workflow.getHandle(execution.workflowId, execution.runId).result()) as { outcome?: string; steps?: StepTimes[] };
          const from = result.steps?.find((step) => step.step === window[0]);
          const to = result.steps?.find((step) => step.step === window[1]);
          if (from && to?.endedAt && result.outcome !== 'rolled-back' && result.outcome !== 'rejected') durations.push(Date.parse(to.endedAt) - Date.parse(from.startedAt));
          if (durations.length >= 5) break;
        }
      } catch (error) {
        // An estimate is a nicety: no visibility (e.g. no search attribute yet) means no estimate.
        log.warn('no procedure history', { error: (error as Error).message });
      }
      durations.sort((a, b) => a - b);
      return { expectedMs: durations.length > 0 ? (durations[Math.floor(durations.length / 2)] ?? null) : null, basedOnRuns: durations.length };
    },
  };
}

import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import type { FleetMember } from '../../procedures/fleet-upgrade';
import type { ActivityDeps } from '../deps';
import { approvalPolicyPlan, getCluster } from './lookup';

/** What a fleet's status shows of one running upgrade: its step and whether it awaits a decision. */
export interface ProcedureGlimpse {
  step: string;
  outcome: string;
  waitingFor?: string;
  approval?: string;
}

export function createFleetActivities(deps: ActivityDeps) {
  return {
    /**
     * The fleet's clusters as the configuration defines them: the named ones (an unknown name is
     * UnknownCluster), or, without names, every cluster with its labels. Read-only; safe to retry.
     */
    async fleetClusters(input: { clusters?: string[] }): Promise<FleetMember[]> {
      const names = input.clusters ?? Object.keys(deps.config.clusters);
      return names.map((name) => {
        const cluster = getCluster(deps, name);
        return {
          name,
          labels: cluster.labels,
          approvers: cluster.approval.approvers,
          approvalPolicy: approvalPolicyPlan(deps, cluster),
        };
      });
    },

    /**
     * Reads the `status` query of each running procedure (by workflow ID): a workflow cannot query
     * another, so the fleet's live view of its upgrades comes through here. A procedure that does
     * not answer (it just ended, its worker restarts) is left out. Read-only; safe to retry.
     */
    async describeProcedures(input: { workflowIds: string[] }): Promise<Record<string, ProcedureGlimpse>> {
      const client = deps.temporal;
      if (!client) throw ApplicationFailure.nonRetryable('this worker has no Temporal client to read procedures with', FailureType.Misconfigured);
      const entries = await Promise.all(
        input.workflowIds.map(async (workflowId) => {
          try {
            const status = await client.workflow.getHandle(workflowId).query<{ step: string; outcome: string; waitingFor?: string; approval?: { state: string } }>('status');
            const glimpse: ProcedureGlimpse = {
              step: status.step,
              outcome: status.outcome,
              ...(status.waitingFor ? { waitingFor: status.waitingFor } : {}),
              ...(status.approval && status.approval.state !== 'not-requested' ? { approval: status.approval.state } : {}),
            };
            return [workflowId, glimpse] as const;
          } catch {
            return undefined;
          }
        }),
      );
      return Object.fromEntries(entries.filter((entry) => entry !== undefined));
    },
  };
}

import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ApplicationFailure, ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import { procedureSummary } from '../common/procedure-summary';
import { procedureWorkflowId } from '../common/task-queue';
import { checkInput } from './input-checks';

export type ScheduledProcedureName = 'firstStart' | 'versionUpgrade' | 'inAppMaintenance';

export interface ScheduledProcedureInput {
  procedure: ScheduledProcedureName;
  /** The procedure's own input, `cluster` included. */
  input: { cluster: string } & Record<string, unknown>;
}

export interface ScheduledProcedureResult {
  started: boolean;
  /** Why nothing started: another procedure held the cluster. */
  reason?: string;
  workflowId: string;
  runId?: string;
  result?: unknown;
}

const PROCEDURES: ScheduledProcedureName[] = ['firstStart', 'versionUpgrade', 'inAppMaintenance'];

/**
 * What a Temporal Schedule starts. A schedule names its runs `<id>-<timestamp>`, which would
 * escape the one-ID-per-cluster rule, so this launcher starts the procedure as a child under the
 * cluster's procedure ID: a procedure already running on the cluster (scheduled or manual) makes
 * this run end with `started: false` instead of a second procedure. The child is abandoned, not
 * cancelled, if the launcher is terminated: a maintenance is never cut off by its launcher.
 */
export async function scheduledProcedure(raw: ScheduledProcedureInput): Promise<ScheduledProcedureResult> {
  const { procedure, input } = raw ?? ({} as ScheduledProcedureInput);
  if (!PROCEDURES.includes(procedure)) {
    throw ApplicationFailure.nonRetryable(`"procedure" must be one of ${PROCEDURES.join(', ')}, got ${JSON.stringify(procedure)}`, FailureType.InvalidInput);
  }
  const { cluster } = checkInput<{ cluster: string }>(input, Object.keys(input ?? {}));
  const workflowId = procedureWorkflowId(cluster);
  try {
    const child = await startChild(procedure, {
      workflowId,
      args: [input],
      taskQueue: workflowInfo().taskQueue,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `${procedureSummary(procedure, input)}, in a maintenance window`,
    });
    return { started: true, workflowId, runId: child.firstExecutionRunId, result: await child.result() };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      return { started: false, reason: `another procedure is running on ${cluster} (${workflowId})`, workflowId };
    }
    throw error;
  }
}

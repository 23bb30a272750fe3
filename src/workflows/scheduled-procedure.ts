import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ApplicationFailure, ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import { procedureWorkflowId } from '../common/task-queue';
import { isProcedureName, PROCEDURE_NAMES, PROCEDURES, type ProcedureName } from '../procedures';
import { firstStart } from './first-start';
import { inAppMaintenance } from './in-app-maintenance';
import { versionUpgrade } from './version-upgrade';

export interface ScheduledProcedureInput {
  procedure: ProcedureName;
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

/** Started by reference, so a renamed workflow function is a type error here, not a failed window. */
const WORKFLOWS = { firstStart, versionUpgrade, inAppMaintenance } as const satisfies Record<ProcedureName, unknown>;

/**
 * What a Temporal Schedule starts. A schedule names its runs `<id>-<timestamp>`, which would
 * escape the one-ID-per-cluster rule, so this launcher starts the procedure as a child under the
 * cluster's procedure ID: a procedure already running on the cluster (scheduled or manual) makes
 * this run end with `started: false` instead of a second procedure. The child is abandoned, not
 * cancelled, if the launcher is terminated: a maintenance is never cut off by its launcher.
 */
export async function scheduledProcedure(raw: ScheduledProcedureInput): Promise<ScheduledProcedureResult> {
  const { procedure, input } = raw ?? ({} as ScheduledProcedureInput);
  if (!isProcedureName(procedure)) {
    throw ApplicationFailure.nonRetryable(`"procedure" must be one of ${PROCEDURE_NAMES.join(', ')}, got ${JSON.stringify(procedure)}`, FailureType.InvalidInput);
  }
  const descriptor = PROCEDURES[procedure];
  // The whole input, checked as the procedure checks it: a bad window fails here, naming the key.
  const { cluster } = descriptor.checkInput(input);
  const workflowId = procedureWorkflowId(cluster);
  try {
    const child = await startChild(WORKFLOWS[procedure] as (input: unknown) => Promise<unknown>, {
      workflowId,
      args: [input],
      taskQueue: workflowInfo().taskQueue,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `${descriptor.summary(input)}, in a maintenance window`,
    });
    return { started: true, workflowId, runId: child.firstExecutionRunId, result: await child.result() };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      return { started: false, reason: `another procedure is running on ${cluster} (${workflowId})`, workflowId };
    }
    throw error;
  }
}

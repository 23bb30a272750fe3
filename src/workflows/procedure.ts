import { ApplicationFailure, CancellationScope, isCancellation, log } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { ClusterPlan, CompensationOutcome, NotificationOutcome } from '../common/procedure-types';
import type { RetentionOutcome } from '../common/retention';
import type { ProcedureDescriptor } from '../procedures/descriptor';
import type { ApprovalPolicy } from '../procedures/approval-input';
import type { CheckedCommon } from '../procedures/input-checks';
import { Approval } from './approval';
import { awaitDecision, type DecisionRequest } from './decision-step';
import { dryRun, type DryRunPlan } from './dry-run';
import { checkWorkflowId, runLabel } from './run-identity';
import { notify } from './notify';
import { maintenanceWindowMs, outcomeReport } from './procedure-mail';
import { ProcedureTracker } from './procedure-tracker';
import type { TakenRollbackDecision } from './messages';
import { applyRetention, retentionReport } from './retention';
import { RollbackGuide } from './rollback-guide';
import { describeFailure, failureType, Saga, type UndoOptions } from './saga';
import { takePatchesUpFront } from './patches';
import { cancellableUntilPointOfNoReturn } from './point-of-no-return';

/** What a procedure's steps work with: one run's tracker, undo stack, approval and label. */
export interface ProcedureRun<Step extends string> {
  readonly cluster: string;
  readonly tracker: ProcedureTracker;
  readonly approval: Approval;
  /** A short name for this run's artifacts (backups, saved containers), the same on every replay. */
  readonly label: string;
  /** Runs one named step, recorded in the status query, the UI and the search attributes. */
  step<T>(name: Step, run: () => Promise<T>): Promise<T>;
  /**
   * Pushes the undo of what comes next, BEFORE it runs: a step that fails halfway is undone too.
   * `restores` and `needs` order the undo: one whose needs were not restored is not run.
   */
  undo(description: string, run: () => Promise<unknown>, options?: UndoOptions): void;
  /**
   * Users now work on the new state (traffic is back on it): from here a failure leaves it
   * serving and alerts; undoing (which would lose their writes) needs an operator's confirmation.
   */
  pointOfNoReturn(what: string): void;
  /** What the pre-flight learned that the runner needs: the approvers and the rollback deadline. */
  adopt(plan: Pick<ClusterPlan, 'approvers' | 'rollbackDeadlineMs' | 'approvalPolicy'>): void;
  /**
   * Runs `body` also when a person abandons the rollback (after the undo stack, which then did not
   * finish), non-cancellable; its failure is logged, not thrown: what every ending must do.
   */
  whenAbandoned(body: () => Promise<unknown>): void;
  /** Asks the approvers and waits; a rejection or a timeout under `rollback` throws, so the undo runs. */
  decide(request: DecisionRequest, policy: ApprovalPolicy): Promise<void>;
}

/** What the steps hand back when every one of them succeeded. */
export interface Completed<Result> {
  /** The outcome mail, made when it is sent (so it lists every step up to it). */
  mail: () => { subject: string; text: string };
  result: (notification: NotificationOutcome) => Result;
}

/** How a procedure reads when it does not complete. */
export interface FailureWording {
  /** Names the run in messages: "the upgrade of demo to nocobase:1.7.0". */
  title: string;
  /** What the undo did: "was rolled back". */
  undone: string;
  /** What it means when an undo failed: "the rollback failed". */
  undoFailed: string;
  /** The failure mail's subject. */
  subject: (broken: boolean, step: string) => string;
  /** Where inside the step it failed, e.g. ` (operation "pm enable map")`. */
  context?: () => string;
  /** Facts an operator needs in the failure's details (the backup, the operations). */
  details?: (run: ProcedureRun<string>) => Record<string, unknown>;
}

/**
 * A human's "no" is an answer, not an error: a rejection (or an approval that timed out under the
 * `rollback` policy) is undone like a failure, then the procedure returns this outcome with the
 * reason and what was undone.
 */
export interface Answers<Result> {
  rejectedType: FailureType;
  outcome: 'rolled-back' | 'rejected';
  result: (run: ProcedureRun<string>, notification: NotificationOutcome) => Result;
}

export interface ProcedureScript<Checked extends CheckedCommon, Step extends string, Result> {
  descriptor: ProcedureDescriptor<Checked, Step>;
  input: Checked;
  wording: FailureWording;
  /**
   * Whether an undo that failed leaves the cluster needing a person (`RollbackFailed`). A first
   * start's undo only stops nodes that never served anyone: its own failure stays the story.
   */
  undoFailureIsFatal: boolean;
  answers?: Answers<Result>;
  steps: (run: ProcedureRun<Step>) => Promise<Completed<Result>>;
}

/**
 * The one skeleton every procedure runs in: status tracking, the undo stack, the approval, the
 * outcome mail and the failure wrapping live here once, so a procedure file reads as its steps.
 * On any failure, rejection or cancellation the undo stack runs newest first in a
 * non-cancellable scope, the recipients are told, and the workflow ends with the failing step's
 * type (or `RollbackFailed` when an undo failed and that matters). A dry run returns the plan
 * from read-only activities and runs no step.
 */
export async function runProcedure<Checked extends CheckedCommon, Step extends string, Result>(
  script: ProcedureScript<Checked, Step, Result>,
): Promise<Result | DryRunPlan> {
  const { descriptor, input, wording } = script;
  const { cluster } = input;
  checkWorkflowId(cluster);
  takePatchesUpFront();
  if (input.dryRun) return dryRun(descriptor, input);
  const tracker = new ProcedureTracker(descriptor.name, cluster);
  // Registered for every procedure, so a decision sent to one that asks none is recorded as
  // ignored in its status instead of vanishing.
  const approval = new Approval();
  tracker.status.approval = approval.status;
  const saga = new Saga();
  const guide = new RollbackGuide(tracker.status, approval);
  let rollbackDeadlineMs = DEFAULT_ROLLBACK_DEADLINE_MS;
  const onAbandon: (() => Promise<unknown>)[] = [];
  const run: ProcedureRun<Step> = {
    cluster,
    tracker,
    approval,
    label: runLabel(),
    step: (name, body) => tracker.step(name, body),
    undo: (description, body, options) => saga.push(description, body, options),
    whenAbandoned: (body) => void onAbandon.push(body),
    decide: (request, policy) => awaitDecision(request, approval, policy, tracker),
    pointOfNoReturn(what) {
      const at = new Date(Date.now()).toISOString();
      tracker.status.pointOfNoReturn = { at, what };
      saga.requireConfirmation(`users have worked on the new state since ${at} (${what}); undoing puts back the state from before and loses what they did since`);
    },
    adopt(plan) {
      approval.allow(plan.approvers, plan.approvalPolicy, input.startedBy);
      if (plan.rollbackDeadlineMs !== undefined) rollbackDeadlineMs = plan.rollbackDeadlineMs;
    },
  };

  const passed = () => tracker.status.pointOfNoReturn !== undefined;
  const noteCancel = () => void (tracker.status.pointOfNoReturn && (tracker.status.pointOfNoReturn.cancelRequestedAt ??= new Date(Date.now()).toISOString()));
  try {
    return await cancellableUntilPointOfNoReturn(passed, noteCancel, async () => {
      const completed = await script.steps(run);
      // A watch let go of must not outlive the run: it would put its state back over the result.
      await tracker.watchesStopped();
      // Before the mail, so that it says what was pruned; a prune that fails is reported, not thrown.
      const retention = await applyRetention(cluster, run.label, tracker, undefined);
      const notification = await tracker.step('notify', () => {
        const { subject, text } = completed.mail();
        return notify(cluster, subject, [text, ...retentionReport(retention)].join('\n'));
      });
      tracker.succeeded();
      const result = completed.result(notification);
      endedMetrics(tracker, outcomeOf(result, 'succeeded'));
      return { ...result, ...(retention ? { retention } : {}) };
    });
  } catch (error) {
    tracker.failing(error);
    const step = tracker.status.step;
    const { compensations, abandoned } = await undoAll(script, saga, guide, rollbackDeadlineMs, tracker);
    if (abandoned) await CancellationScope.nonCancellable(() => Promise.allSettled(onAbandon.map((body) => body().catch((cause: unknown) => log.error('after abandon', { error: describeFailure(cause) })))));
    await tracker.watchesStopped();
    const broken = compensations.filter((outcome) => !outcome.ok);
    tracker.failed(compensations);
    const undone = broken.length > 0 ? wording.undoFailed : wording.undone;
    // A refusal changed nothing: nothing to keep or prune after it.
    const retention = saga.size === 0 ? undefined : await applyRetention(cluster, run.label, tracker, notCleanlyUndone(compensations, abandoned, tracker));
    const kept: { retention?: RetentionOutcome } = retention ? { retention } : {};
    const notification = await CancellationScope.nonCancellable(() =>
      notify(
        cluster,
        wording.subject(broken.length > 0, step),
        [outcomeReport(`${capitalize(wording.title)} ended at step ${step} and ${undone}.`, tracker.status, error), ...retentionReport(retention)].join('\n'),
      ),
    );
    const type = failureType(error);
    const message = describeFailure(error);
    const { answers } = script;
    const answered = answers !== undefined && !abandoned && !isCancellation(error) && [answers.rejectedType, FailureType.ApprovalTimedOut].includes(type as FailureType);
    if (answered) endedMetrics(tracker, answers.outcome, type);
    else if (abandoned) endedMetrics(tracker, 'abandoned', tracker.status.pointOfNoReturn !== undefined && !saga.anyFailed ? type : FailureType.RollbackFailed);
    else if (isCancellation(error)) endedMetrics(tracker, 'cancelled');
    else endedMetrics(tracker, broken.length > 0 && script.undoFailureIsFatal ? 'rollback-failed' : 'failed', type);
    if (abandoned) {
      const who = `abandoned by ${abandoned.by}: ${abandoned.reason}`;
      // Nothing was undone after the point of no return: the new state serves, which is not a broken rollback.
      const leftServing = tracker.status.pointOfNoReturn !== undefined && !saga.anyFailed;
      throw ApplicationFailure.create({
        type: leftServing ? type : FailureType.RollbackFailed,
        nonRetryable: true,
        message: leftServing
          ? `${wording.title} failed at ${step} after the point of no return (${message}); the new state keeps serving, ${who}`
          : `${wording.title} failed at ${step} (${type}: ${message}) and ${wording.undoFailed}: ${broken.map((outcome) => `${outcome.step}: ${outcome.error}`).join('; ')}; ${who}`,
        details: [{ cause: { type, message }, compensations, nodes: tracker.status.nodes, rollback: tracker.status.rollback, ...kept, ...wording.details?.(run) }],
      });
    }
    if (isCancellation(error)) throw error;
    if (answered) {
      tracker.status.outcome = answers.outcome;
      // The results of procedures that take answers carry `reason` and `compensations`.
      return { ...answers.result(run, notification), reason: message, compensations, ...kept } as Result;
    }
    throw ApplicationFailure.create({
      type,
      nonRetryable: true,
      message: `${wording.title} failed at step ${step}${wording.context?.() ?? ''} and ${undone}: ${message}`,
      details: [{ step, compensations, ...kept, ...wording.details?.(run) }],
      cause: error instanceof Error ? error : undefined,
    });
  }
}

/** How long a failing undo is retried on its own before a person is asked (a dockerd restart, a database failover). */
const DEFAULT_ROLLBACK_DEADLINE_MS = 10 * 60_000;

/**
 * Runs the undo stack; where an undo that matters could not finish (or would lose people's data),
 * asks a person and runs what is left again, until it finished or was abandoned. A cancellation of
 * the workflow does not end this: the cluster is not left half undone because someone cancelled.
 */
async function undoAll(
  script: { undoFailureIsFatal: boolean; input: CheckedCommon },
  saga: Saga,
  guide: RollbackGuide,
  deadlineMs: number,
  tracker: ProcedureTracker,
): Promise<{ compensations: CompensationOutcome[]; abandoned?: TakenRollbackDecision }> {
  const budget = { deadlineMs, dataLossConfirmed: false };
  let compensations = await saga.compensate(budget);
  if (!script.undoFailureIsFatal) return { compensations };
  let helped = false;
  while (saga.unfinished.length > 0) {
    tracker.metrics.waitingForPerson('rollback');
    const { action, decision } = await CancellationScope.nonCancellable(() => guide.ask(script.input.cluster, saga.unfinished, saga.awaitsConfirmation));
    tracker.metrics.personAnswered('rollback');
    if (action === 'abandon') return { compensations, abandoned: decision };
    helped = true;
    budget.dataLossConfirmed ||= decision.confirmDataLoss === true;
    compensations = await saga.compensate(budget);
  }
  if (helped) guide.finished();
  return { compensations };
}

/**
 * Why the retention must not run after this rollback, or undefined when it was undone cleanly on
 * its own: after a failed, helped or abandoned rollback a person may need every copy there is.
 */
function notCleanlyUndone(compensations: CompensationOutcome[], abandoned: TakenRollbackDecision | undefined, tracker: ProcedureTracker): string | undefined {
  if (abandoned) return `the rollback was abandoned by ${abandoned.by}: what is on the database server may be needed`;
  const broken = compensations.filter((outcome) => !outcome.ok);
  if (broken.length > 0) return `undoing did not finish (${broken.map((outcome) => outcome.step).join('; ')}): what is on the database server may be needed`;
  if (tracker.status.rollback) return 'the rollback needed a person (retryRollback): what is on the database server is left for them';
  return undefined;
}

/** Records how the run ended, and the 503 window users saw when it showed the maintenance page. */
function endedMetrics(tracker: ProcedureTracker, outcome: string, failure?: string): void {
  const window = maintenanceWindowMs(tracker.status.steps, new Date(Date.now()).toISOString());
  if (window !== undefined) tracker.metrics.maintenancePage(window);
  tracker.metrics.ended(outcome, failure);
  log.info('procedure ended', { outcome, ...(failure ? { failureType: failure } : {}), ...(window !== undefined ? { maintenanceWindowMs: window } : {}) });
}

/** The outcome a result names (`upgraded`, `completed`, ...), else `fallback`. */
function outcomeOf(result: unknown, fallback: string): string {
  const outcome = (result as { outcome?: unknown } | null)?.outcome;
  return typeof outcome === 'string' ? outcome : fallback;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

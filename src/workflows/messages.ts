import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BackupRecord, CompensationOutcome, StorageBackupRecord } from '../common/procedure-types';
import type { RetentionOutcome } from '../common/retention';
import type { ProcedureName } from '../procedures';

/** Signals, queries and updates: defined once here, imported by workflows, scripts and tests. */

export type { ProcedureName } from '../procedures';

export type NodeState = 'stopped' | 'starting' | 'ready' | 'stopping' | 'failed';

export type ApprovalState = 'not-requested' | 'awaiting' | 'approved' | 'rejected' | 'timed-out';

export interface ApproveDecision {
  by: string;
  comment?: string;
}

export interface RejectDecision {
  by: string;
  reason?: string;
}

/**
 * The update's argument: the same decision as the signals, in one message. With a `token` (from
 * the approval mail's link) the decider is the person it was mailed to, and `by` is not needed.
 */
export interface Decision {
  decision: 'approve' | 'reject';
  by?: string;
  /** The signed token of an approval link (required when the cluster's approval mode is `signed`). */
  token?: string;
  /** Set by the approval page: the decision came through a link, not the CLI. */
  channel?: 'link';
  comment?: string;
  reason?: string;
}

/** How a decision was authorized: a mailed link, its token on the CLI, a name in open mode, or the timeout. */
export type DecisionChannel = 'link' | 'token' | 'open' | 'timeout';

export interface RecordedDecision {
  decision: 'approve' | 'reject';
  by: string;
  comment?: string;
  reason?: string;
  at: string;
  via: 'signal' | 'update' | 'timeout';
  /** The audit: how the decider was identified (absent from runs recorded before clusters had a policy). */
  how?: DecisionChannel;
  /** The token's ID (its nonce), when a token decided. */
  tokenId?: string;
}

export interface IgnoredDecision {
  decision: 'approve' | 'reject' | 'maintenanceDone';
  by: string;
  at: string;
  why: string;
}

export interface ApprovalStatus {
  state: ApprovalState;
  /** Who may decide; left empty under a cluster's approval policy, so that nobody learns whose name to claim. */
  approvers: string[];
  /** The cluster's approval mode (absent from runs before clusters had a policy). */
  mode?: 'open' | 'signed';
  /** Distinct approvals needed (`minApprovals`). */
  needed?: number;
  decision?: RecordedDecision;
  /** Every decision taken, in order (each approval under `minApprovals` > 1): who, how, when, which token. */
  audit?: RecordedDecision[];
  /** What is asked (shown by the approval page): the subject, the automated checks, what each answer does. */
  request?: { subject: string; summary: string[]; onApprove: string; onReject: string };
  /** Decisions that arrived from someone not allowed, or when nothing awaited one (the first 20). */
  ignored: IgnoredDecision[];
  /** How many more were ignored than `ignored` lists: a flood does not grow the status or the result. */
  ignoredMore?: number;
}

export interface ProcedureStatus {
  procedure: ProcedureName;
  cluster: string;
  /** The step running now, or the last one when the procedure has ended. */
  step: string;
  outcome: 'running' | 'succeeded' | 'failed' | 'compensating' | 'rollback-blocked' | 'rolled-back' | 'rejected';
  nodes: Record<string, { container: string; image?: string; state: NodeState }>;
  /** What the procedure waits for, in words, when it waits. */
  waitingFor?: string;
  steps: { step: string; startedAt: string; endedAt?: string }[];
  target?: { image: string; version: string | null };
  backup?: BackupRecord;
  /** The shared storage's archive, taken with the database backup (absent without `storage`). */
  storageBackup?: StorageBackupRecord;
  approval?: ApprovalStatus;
  /** Set when the procedure was forced to start on a blackout day. */
  forced?: { reason: string; blackout: string };
  /** In-app maintenance: each operation as it ran. */
  operations?: OperationOutcome[];
  /** In-app maintenance without operations: who said the work on the remaining node is done. */
  maintenanceDoneBy?: string;
  error?: { type: string; message: string };
  compensations?: CompensationOutcome[];
  /** Set once the undo could not finish on its own, or a confirmation is needed: what a person must know. */
  rollback?: RollbackStatus;
  /** What the load balancer watch found changed (a reload) and put back while the procedure waited. */
  loadBalancerDrifts?: { at: string; what: string }[];
  /**
   * Set once users were given the new state (traffic back on it): a failure no longer rolls data
   * back on its own, and a cancellation (a fleet's abort) that comes after it, noted in
   * `cancelRequestedAt`, no longer stops the run: it finishes, on the new state.
   */
  pointOfNoReturn?: { at: string; what: string; cancelRequestedAt?: string };
  /** Once the run finished: what the retention (`backup.keep`) pruned, why it failed, or why it was not applied. */
  retention?: RetentionOutcome;
}

/** Guided failure: the undo stopped where continuing would make things worse, and waits for a person. */
export interface RollbackStatus {
  state: 'blocked' | 'retrying' | 'finished' | 'abandoned';
  /** Undos that failed, were not run because one they need failed, or wait for a confirmation. */
  unfinished: CompensationOutcome[];
  /** Set when the next undo destroys data people wrote: the words an operator confirms with `confirmDataLoss`. */
  dataLoss?: string;
  attempts: number;
  decisions: (TakenRollbackDecision & { action: 'retryRollback' | 'abandon'; at: string })[];
}

/** `retryRollback` once the cause is fixed, or `abandon` to leave the cluster as it is, with who and why. */
export interface RollbackDecision {
  /** Who decides (open mode); with a token, the person it was mailed to decides, whatever this says. */
  by?: string;
  /** Signed mode: the token mailed with the rollback-blocked mail for this kind of decision. */
  token?: string;
  reason?: string;
  /** Required when the status names a `dataLoss`: the operator read it and accepts it. */
  confirmDataLoss?: boolean;
}

/** A rollback decision as taken: who decided, never the token. */
export type TakenRollbackDecision = Omit<RollbackDecision, 'by' | 'token'> & { by: string };

export interface OperationOutcome {
  /** e.g. "pm enable @nocobase/plugin-map" or "backup". */
  operation: string;
  ok: boolean;
  output?: string;
  backup?: BackupRecord;
}

/** `temporal workflow query --name status` */
export const statusQuery = defineQuery<ProcedureStatus>('status');

/** `temporal workflow signal --name approve --input '{"by":"alice","comment":"..."}'` */
export const approveSignal = defineSignal<[ApproveDecision]>('approve');

/** `temporal workflow signal --name reject --input '{"by":"alice","reason":"..."}'` */
export const rejectSignal = defineSignal<[RejectDecision]>('reject');

/**
 * `temporal workflow update execute --name decide --input '{"decision":"approve","token":"<from the mail>"}'`
 * (or `"by":"alice"` in open mode): the same decision as the signals, but the caller is told at
 * once when it is refused.
 */
export const decideUpdate = defineUpdate<RecordedDecision, [Decision]>('decide');

/**
 * `temporal workflow signal --name maintenanceDone --input '{"by":"alice"}'`: the manual work is
 * finished. In signed mode `{"token": "<from the mail>"}` instead.
 */
export const maintenanceDoneSignal = defineSignal<[{ by?: string; token?: string }]>('maintenanceDone');

/**
 * `temporal workflow update execute --name retryRollback --input '{"by":"alice"}'`: run the undos
 * that did not finish again (after fixing what the status names). Refused unless the undo waits.
 */
export const retryRollbackUpdate = defineUpdate<RollbackStatus, [RollbackDecision]>('retryRollback');

/**
 * `temporal workflow update execute --name abandon --input '{"by":"alice","reason":"..."}'`: stop
 * undoing and close the procedure, leaving the cluster exactly as the status describes it.
 */
export const abandonUpdate = defineUpdate<RollbackStatus, [RollbackDecision]>('abandon');

// --- Fleet upgrades (src/workflows/fleet-upgrade.ts) ---

/** Where one cluster of a fleet stands. */
export type FleetClusterState = 'pending' | 'running' | 'upgraded' | 'rolled-back' | 'failed' | 'refused' | 'cancelled' | 'skipped' | 'not-started';

export interface FleetClusterStatus {
  wave: number;
  image: string;
  state: FleetClusterState;
  /** The cluster's own procedure: `temporal workflow query --workflow-id <it> --name status`. */
  workflowId: string;
  runId?: string;
  startedAt?: string;
  endedAt?: string;
  /** Why it was rolled back, failed, refused, skipped or not started. */
  reason?: string;
  /** The failure type, when it failed. */
  type?: string;
  /** Its step and what it waits for as last read (every `watchEvery`) while it runs. */
  step?: string;
  waitingFor?: string;
  /** Its own approval state while it runs: `awaiting` means a person must decide on that cluster. */
  approval?: string;
}

export interface FleetStatus {
  fleet: string;
  image: string;
  state: 'planning' | 'running' | 'paused' | 'awaiting-approval' | 'completed' | 'stopped' | 'aborted' | 'rejected';
  /** Index of the wave running or last run (0: the canary). */
  wave: number;
  waves: string[][];
  clusters: Record<string, FleetClusterStatus>;
  /** Clusters whose upgrade waits for a person's decision now (approve or reject on that cluster's procedure). */
  awaitingDecision: string[];
  failureBudget: number;
  /** Why the fleet stopped, when it did. */
  reason?: string;
  /** The approval before the next wave, while one is asked or once decided. */
  approval?: ApprovalStatus;
  /** Every between-wave decision, in order. */
  decisions: RecordedDecision[];
  /** pause, resume, skip and abort, with who and when. */
  controls: FleetControlRecord[];
}

export interface FleetControl {
  by: string;
  reason?: string;
}

export interface FleetControlRecord extends FleetControl {
  action: 'pause' | 'resume' | 'skip' | 'abort';
  cluster?: string;
  at: string;
}

/** `temporal workflow query --workflow-id fleet-<name> --name status` */
export const fleetStatusQuery = defineQuery<FleetStatus>('status');

/** `temporal workflow update execute --name pause --input '{"by":"alice"}'`: no further upgrade starts; running ones go on. */
export const pauseUpdate = defineUpdate<FleetStatus, [FleetControl]>('pause');

/** `temporal workflow update execute --name resume --input '{"by":"alice"}'` */
export const resumeUpdate = defineUpdate<FleetStatus, [FleetControl]>('resume');

/** `temporal workflow update execute --name skip --input '{"by":"alice","cluster":"eu-3"}'`: that cluster is not upgraded (refused once it runs). */
export const skipUpdate = defineUpdate<FleetStatus, [FleetControl & { cluster: string }]>('skip');

/**
 * `temporal workflow update execute --name abort --input '{"by":"alice","reason":"..."}'`: no
 * further upgrade starts, running ones are cancelled (and roll back); upgraded clusters stay upgraded.
 */
export const abortUpdate = defineUpdate<FleetStatus, [FleetControl]>('abort');

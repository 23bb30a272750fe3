import type { FailureType } from '../common/failure-types';
import type { Leftover } from '../common/leftovers';
import type { BackupMethod, ClusterPlan } from '../common/procedure-types';
import type { CheckedCommon } from './input-checks';

export type ProcedureName = 'firstStart' | 'versionUpgrade' | 'inAppMaintenance';

/** What the read-only part of a pre-flight found. */
export interface PreflightFacts {
  plan: ClusterPlan;
  /** Each node's health check, for procedures that need a serving cluster. */
  probes?: { node: string; healthy: boolean; code: string }[];
  /** What runs that did not finish left on the cluster (absent from runs recorded before the pre-flight looked). */
  leftovers?: Leftover[];
}

/** Something the pre-flight refuses: a real run fails with the first, a dry run lists them all. */
export interface Problem {
  type: FailureType;
  message: string;
  /** Structured facts for the failure's details, e.g. each leftover with its recovery. */
  details?: Record<string, unknown>;
}

/**
 * Everything about one procedure that is not its steps' code: its name, its steps in order, how
 * its input is checked, what its pre-flight refuses and how it reads in the UI. The workflow, the
 * dry run, the schedules and the CLI wrappers all read it from here, so they cannot disagree.
 * Pure code: it runs in the workflow sandbox and in clients alike.
 */
export interface ProcedureDescriptor<Checked extends CheckedCommon = CheckedCommon, Step extends string = string> {
  readonly name: ProcedureName;
  /** The steps in order, as the status query, the UI and the dry run name them. */
  readonly steps: readonly Step[];
  /** Steps that run only under a condition, with the condition in words. */
  readonly conditionalSteps?: Partial<Record<Step, string>>;
  /** Refuses malformed input with an `InvalidInput` failure before anything is touched. */
  checkInput(raw: unknown): Checked;
  /** One line for the UI's workflow list; works on unchecked input (schedules, wrappers). */
  summary(input: { cluster: string } & Record<string, unknown>): string;
  /** Whether a person approves or rejects the result (the approval handlers are then registered). */
  readonly asksApproval: boolean;
  /** Whether the pre-flight probes every node's health (the procedure needs a serving cluster). */
  readonly probesHealth: boolean;
  /** What the pre-flight refuses, judged from read-only facts only. */
  problems(facts: PreflightFacts, input: Checked): Problem[];
  /** For the dry run: the image it would install, the backup it would take, the work it would do. */
  planOf(input: Checked): { target?: string; backupMethod?: BackupMethod; operations?: string[] };
}

/** The steps as the dry run lists them, conditional ones with their condition. */
export function stepList(descriptor: Pick<ProcedureDescriptor, 'steps' | 'conditionalSteps'>): string[] {
  const conditions: Partial<Record<string, string>> = descriptor.conditionalSteps ?? {};
  return descriptor.steps.map((step) => (conditions[step] ? `${step} (${conditions[step]})` : step));
}

/** The dry-run suffix every summary carries. */
export function dryRunSuffix(input: Record<string, unknown>): string {
  return input.dryRun === true ? ' (dry run)' : '';
}

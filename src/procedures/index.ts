import type { ProcedureName } from './descriptor';
import { FIRST_START } from './first-start';
import { IN_APP_MAINTENANCE } from './in-app-maintenance';
import { VERSION_UPGRADE } from './version-upgrade';

export type { ProcedureDescriptor, ProcedureName, PreflightFacts, Problem } from './descriptor';

/** Every procedure this project runs, by workflow type. The one list scripts and schedules read. */
export const PROCEDURES = {
  firstStart: FIRST_START,
  versionUpgrade: VERSION_UPGRADE,
  inAppMaintenance: IN_APP_MAINTENANCE,
} as const satisfies Record<ProcedureName, unknown>;

export const PROCEDURE_NAMES = Object.keys(PROCEDURES) as ProcedureName[];

export function isProcedureName(name: unknown): name is ProcedureName {
  return typeof name === 'string' && (PROCEDURE_NAMES as string[]).includes(name);
}

/**
 * The one-line `staticSummary` a procedure's workflow carries in the Temporal UI's list and page.
 * Built from the procedure's input, which never holds secrets.
 */
export function procedureSummary(procedure: string, input: { cluster: string } & Record<string, unknown>): string {
  if (isProcedureName(procedure)) return PROCEDURES[procedure].summary(input);
  return `${procedure} on ${input.cluster}${input.dryRun === true ? ' (dry run)' : ''}`;
}

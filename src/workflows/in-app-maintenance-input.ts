import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import { checkApprovalInput, type ApprovalInput, type ApprovalPolicy } from './approval-input';
import { checkForce, checkInput, type ForceInput } from './input-checks';

/** NocoBase's plugin manager, run on the remaining node: `yarn pm add|enable|disable|remove <plugin...>`. */
export interface PmOperation {
  type: 'pm';
  args: string[];
}

/** A pg_dump backup while the one node serves (a clone would need every connection closed). */
export interface BackupOperation {
  type: 'backup';
}

export type MaintenanceOperation = PmOperation | BackupOperation;

export interface InAppMaintenanceInput {
  cluster: string;
  /** Run in order on the remaining node. Without any, the procedure waits for `maintenanceDone`. */
  operations?: MaintenanceOperation[];
  approval?: ApprovalInput;
  /** Restore the backup taken by a `backup` operation when a later step fails or is rejected. */
  restoreBackupOnFailure?: boolean;
  /** Return the plan and change nothing. */
  dryRun?: boolean;
  /** Start on a blackout day anyway; the reason is recorded. */
  force?: ForceInput;
}

export interface CheckedMaintenanceInput {
  cluster: string;
  operations: MaintenanceOperation[];
  policy: ApprovalPolicy;
  restoreBackupOnFailure: boolean;
  dryRun: boolean;
  force: ForceInput | undefined;
}

const PM_COMMANDS = ['add', 'enable', 'disable', 'remove'];
// Plugin names and package names only: the arguments go to `docker exec` as an argv, never a
// shell, but an option-looking or path-looking argument still has no business there.
const PM_ARGUMENT = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/;

export function checkMaintenanceInput(raw: unknown): CheckedMaintenanceInput {
  const input = checkInput<InAppMaintenanceInput>(raw, ['cluster', 'operations', 'approval', 'restoreBackupOnFailure', 'dryRun', 'force']);
  const operations = input.operations ?? [];
  if (!Array.isArray(operations)) throw invalid('"operations" must be a list such as [{"type":"pm","args":["enable","<plugin>"]}, {"type":"backup"}]');
  operations.forEach((operation, index) => checkOperation(operation, index));
  const restoreBackupOnFailure = input.restoreBackupOnFailure ?? false;
  if (typeof restoreBackupOnFailure !== 'boolean') throw invalid('"restoreBackupOnFailure" must be true or false');
  if (restoreBackupOnFailure && !operations.some((operation) => operation.type === 'backup')) {
    throw invalid('"restoreBackupOnFailure" needs a {"type":"backup"} operation to restore from');
  }
  return { cluster: input.cluster, operations, policy: checkApprovalInput(input.approval), restoreBackupOnFailure, dryRun: input.dryRun === true, force: checkForce(input.force) };
}

export function describeOperation(operation: MaintenanceOperation): string {
  return operation.type === 'pm' ? `pm ${operation.args.join(' ')}` : 'backup';
}

function checkOperation(operation: unknown, index: number): void {
  const where = `operations[${index}]`;
  if (typeof operation !== 'object' || operation === null) throw invalid(`${where} must be an object`);
  const { type, args, ...rest } = operation as { type?: unknown; args?: unknown };
  if (type === 'backup') {
    if (args !== undefined || Object.keys(rest).length > 0) throw invalid(`${where}: a backup operation takes no other keys`);
    return;
  }
  if (type !== 'pm') throw invalid(`${where}.type must be "pm" or "backup", got ${JSON.stringify(type)}`);
  if (Object.keys(rest).length > 0) throw invalid(`${where}: unknown key(s) ${Object.keys(rest).join(', ')}`);
  if (!Array.isArray(args) || args.length < 2 || !PM_COMMANDS.includes(args[0] as string)) {
    throw invalid(`${where}.args must be [${PM_COMMANDS.join('|')}, <plugin>, ...], got ${JSON.stringify(args)}`);
  }
  const bad = args.slice(1).filter((arg) => typeof arg !== 'string' || !PM_ARGUMENT.test(arg));
  if (bad.length > 0) throw invalid(`${where}.args: not plugin names: ${JSON.stringify(bad)}`);
}

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.InvalidInput);
}

import { FailureType } from '../common/failure-types';
import { approvalPolicyProblems } from './approval-policy';
import { checkApprovalInput, type ApprovalInput, type ApprovalPolicy } from './approval-input';
import { dryRunSuffix, type ProcedureDescriptor } from './descriptor';
import { checkInput, invalidInput as invalid, type CheckedCommon, type CommonInput } from './input-checks';

/** NocoBase's plugin manager, run on the remaining node: `yarn pm add|enable|disable|remove <plugin...>` (add: or a tarball's path in the node). */
export interface PmOperation {
  type: 'pm';
  args: string[];
}

/** A pg_dump backup while the one node serves (a clone would need every connection closed). */
export interface BackupOperation {
  type: 'backup';
}

export type MaintenanceOperation = PmOperation | BackupOperation;

export interface InAppMaintenanceInput extends CommonInput {
  /** Run in order on the remaining node. Without any, the procedure waits for `maintenanceDone`. */
  operations?: MaintenanceOperation[];
  approval?: ApprovalInput;
  /** Restore the backup taken by a `backup` operation when a later step fails or is rejected. */
  restoreBackupOnFailure?: boolean;
}

export interface CheckedMaintenanceInput extends CheckedCommon {
  operations: MaintenanceOperation[];
  policy: ApprovalPolicy;
  restoreBackupOnFailure: boolean;
}

export const IN_APP_STEPS = ['preflight', 'reduce-to-one-node', 'maintenance', 'verify', 'restore-nodes', 'notify'] as const;

export type InAppStep = (typeof IN_APP_STEPS)[number];

const PM_COMMANDS = ['add', 'enable', 'disable', 'remove'];
// Plugin names and package names only: the arguments go to `docker exec` as an argv, never a
// shell, but an option-looking or path-looking argument still has no business there.
const PM_ARGUMENT = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/;
// `pm add` also takes a plugin's npm tarball by its absolute path inside the node (NocoBase copies
// it into storage/plugins): how an operator's own plugin is added without a registry. No `..`.
const PM_ADD_TARBALL = /^(\/[\w@-][\w.@-]*)+\.(tgz|tar\.gz)$/;

function pmArgumentOk(command: unknown, arg: unknown): boolean {
  if (typeof arg !== 'string') return false;
  if (PM_ARGUMENT.test(arg)) return true;
  return command === 'add' && PM_ADD_TARBALL.test(arg) && !arg.split('/').includes('..');
}

export function checkMaintenanceInput(raw: unknown): CheckedMaintenanceInput {
  const input = checkInput<InAppMaintenanceInput>(raw, ['operations', 'approval', 'restoreBackupOnFailure']);
  const operations = input.operations ?? [];
  if (!Array.isArray(operations)) throw invalid('"operations" must be a list such as [{"type":"pm","args":["enable","<plugin>"]}, {"type":"backup"}]');
  operations.forEach((operation, index) => checkOperation(operation, index));
  const restoreBackupOnFailure = input.restoreBackupOnFailure ?? false;
  if (typeof restoreBackupOnFailure !== 'boolean') throw invalid('"restoreBackupOnFailure" must be true or false');
  if (restoreBackupOnFailure && !operations.some((operation) => operation.type === 'backup')) {
    throw invalid('"restoreBackupOnFailure" needs a {"type":"backup"} operation to restore from');
  }
  return { cluster: input.cluster, dryRun: input.dryRun, force: input.force, ...(input.startedBy ? { startedBy: input.startedBy } : {}), operations, policy: checkApprovalInput(input.approval), restoreBackupOnFailure };
}

/** "pm enable map", "backup"; lenient, because summaries are made from unchecked input too. */
export function describeOperation(operation: unknown): string {
  if (typeof operation !== 'object' || operation === null) return 'an operation';
  const { type, args } = operation as { type?: unknown; args?: unknown };
  if (type === 'pm' && Array.isArray(args)) return `pm ${args.join(' ')}`;
  return typeof type === 'string' ? type : 'an operation';
}

/**
 * Whether an operation leaves the next start of a node running NocoBase's upgrade: `pm add`
 * registers the plugin disabled and writes `storage/.upgrading`, shared by every node, and nothing
 * locks two nodes upgrading one database at once. Counted before it runs: a failed add may have
 * written the marker too.
 */
export function leavesUpgradePending(operation: MaintenanceOperation): boolean {
  return operation.type === 'pm' && operation.args[0] === 'add';
}

/**
 * In-app maintenance: plugin management, backups or manual work with ONE node serving, because
 * NocoBase's in-app operations are not coordinated across nodes. Needs every node serving before
 * it starts, so "back to full strength" afterwards means what it says.
 */
export const IN_APP_MAINTENANCE: ProcedureDescriptor<CheckedMaintenanceInput, InAppStep> = {
  name: 'inAppMaintenance',
  steps: IN_APP_STEPS,
  checkInput: checkMaintenanceInput,
  summary(input) {
    const operations = Array.isArray(input.operations) ? input.operations.map(describeOperation) : [];
    return `In-app maintenance of ${input.cluster}: ${operations.length > 0 ? operations.join(', ') : 'manual work'}${dryRunSuffix(input)}`;
  },
  asksApproval: true,
  probesHealth: true,
  problems({ plan, probes = [] }, input) {
    const policy = approvalPolicyProblems(plan, input);
    const unhealthy = probes.filter((probe) => !probe.healthy);
    if (unhealthy.length === 0) return policy;
    return [...policy, {
      type: FailureType.ClusterNotHealthy,
      message: `in-app maintenance needs every node of ${plan.cluster} serving; not healthy: ${unhealthy.map((probe) => `${probe.node} (${probe.code})`).join(', ')}`,
    }];
  },
  planOf: ({ operations }) => ({
    operations: operations.map(describeOperation),
    // A pg_dump while the one node serves: a clone would need every connection closed.
    ...(operations.some((operation) => operation.type === 'backup') ? { backupMethod: 'pg_dump' as const } : {}),
  }),
};

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
  const bad = args.slice(1).filter((arg) => !pmArgumentOk(args[0], arg));
  if (bad.length > 0) throw invalid(`${where}.args: not plugin names: ${JSON.stringify(bad)}`);
}

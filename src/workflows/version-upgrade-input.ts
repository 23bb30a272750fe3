import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { BackupMethod } from '../common/procedure-types';
import type { TimeoutPolicy } from './approval';
import { checkApprovalInput, type ApprovalInput } from './approval-input';
import { checkForce, checkInput, type ForceInput } from './input-checks';

export interface VersionUpgradeInput {
  cluster: string;
  /** registry/name:tag or name@sha256:digest; an explicit tag or digest is required. */
  image: string;
  approval?: ApprovalInput;
  /** Overrides the cluster's `backup.method` for this upgrade. */
  backupMethod?: BackupMethod;
  /** Return the plan and change nothing. */
  dryRun?: boolean;
  /** Start on a blackout day anyway; the reason is recorded. */
  force?: ForceInput;
}

export interface CheckedUpgradeInput {
  cluster: string;
  image: string;
  approvalTimeoutMs: number | undefined;
  onTimeout: TimeoutPolicy;
  backupMethod: BackupMethod | undefined;
  dryRun: boolean;
  force: ForceInput | undefined;
}

// Docker's reference grammar, simplified: optional registry host[:port]/, path components, and a
// tag and/or digest. "latest" by omission is refused: an upgrade names the version it installs.
const IMAGE_REFERENCE = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export function checkUpgradeInput(raw: unknown): CheckedUpgradeInput {
  const input = checkInput<VersionUpgradeInput>(raw, ['cluster', 'image', 'approval', 'backupMethod', 'dryRun', 'force']);
  const { image } = input;
  if (typeof image !== 'string' || !IMAGE_REFERENCE.test(image)) {
    throw invalid(`"image" must be an image reference such as registry.example.com/nocobase/nocobase:1.7.14, got ${JSON.stringify(image)}`);
  }
  const lastPart = image.split('/').at(-1) ?? '';
  if (!lastPart.includes(':') && !image.includes('@sha256:')) {
    throw invalid(`"image" must name an explicit tag or digest (got ${image}): an upgrade says which version it installs`);
  }
  const { timeoutMs: approvalTimeoutMs, onTimeout } = checkApprovalInput(input.approval);
  const { backupMethod } = input;
  if (backupMethod !== undefined && backupMethod !== 'pg_dump' && backupMethod !== 'clone') {
    throw invalid(`"backupMethod" must be pg_dump or clone, got ${JSON.stringify(backupMethod)}`);
  }
  return { cluster: input.cluster, image, approvalTimeoutMs, onTimeout, backupMethod, dryRun: input.dryRun === true, force: checkForce(input.force) };
}

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.InvalidInput);
}

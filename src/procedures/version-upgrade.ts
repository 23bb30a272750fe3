import { FailureType } from '../common/failure-types';
import type { BackupMethod } from '../common/procedure-types';
import { approvalPolicyProblems } from './approval-policy';
import { checkApprovalInput, type ApprovalInput, type ApprovalPolicy } from './approval-input';
import { dryRunSuffix, type ProcedureDescriptor } from './descriptor';
import { checkInput, invalidInput as invalid, type CheckedCommon, type CommonInput } from './input-checks';

export interface VersionUpgradeInput extends CommonInput {
  /** registry/name:tag or name@sha256:digest; an explicit tag or digest is required. */
  image: string;
  approval?: ApprovalInput;
  /** Overrides the cluster's `backup.method` for this upgrade. */
  backupMethod?: BackupMethod;
}

export interface CheckedUpgradeInput extends CheckedCommon {
  image: string;
  policy: ApprovalPolicy;
  backupMethod: BackupMethod | undefined;
}

export const UPGRADE_STEPS = [
  'preflight', 'maintenance-page', 'stop-nodes', 'restart-middleware', 'backup', 'update-image',
  'start-first-node', 'verify', 'start-other-nodes', 'restore-traffic', 'cleanup', 'notify',
] as const;

export type UpgradeStep = (typeof UPGRADE_STEPS)[number];

// Docker's reference grammar, simplified: optional registry host[:port]/, path components, and a
// tag and/or digest. "latest" by omission is refused: an upgrade names the version it installs.
const IMAGE_REFERENCE = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export function checkUpgradeInput(raw: unknown): CheckedUpgradeInput {
  const input = checkInput<VersionUpgradeInput>(raw, ['image', 'approval', 'backupMethod']);
  const { image } = input;
  if (typeof image !== 'string' || !IMAGE_REFERENCE.test(image)) {
    throw invalid(`"image" must be an image reference such as registry.example.com/nocobase/nocobase:1.7.14, got ${JSON.stringify(image)}`);
  }
  const lastPart = image.split('/').at(-1) ?? '';
  if (!lastPart.includes(':') && !image.includes('@sha256:')) {
    throw invalid(`"image" must name an explicit tag or digest (got ${image}): an upgrade says which version it installs`);
  }
  const { backupMethod } = input;
  if (backupMethod !== undefined && backupMethod !== 'pg_dump' && backupMethod !== 'clone') {
    throw invalid(`"backupMethod" must be pg_dump or clone, got ${JSON.stringify(backupMethod)}`);
  }
  return { cluster: input.cluster, dryRun: input.dryRun, force: input.force, ...(input.startedBy ? { startedBy: input.startedBy } : {}), image, policy: checkApprovalInput(input.approval), backupMethod };
}

/**
 * Version upgrade: maintenance page, every node stopped, a verified backup, the new image on ONE
 * node, its upgrade awaited, a human decision, then the other nodes and traffic. Refused when
 * every node already runs the target image (nothing to upgrade, nothing to roll back to).
 */
export const VERSION_UPGRADE: ProcedureDescriptor<CheckedUpgradeInput, UpgradeStep> = {
  name: 'versionUpgrade',
  steps: UPGRADE_STEPS,
  conditionalSteps: { 'restart-middleware': 'when configured' },
  checkInput: checkUpgradeInput,
  summary: (input) => `Upgrade of ${input.cluster} to ${typeof input.image === 'string' ? `\`${input.image}\`` : 'a new image'}${dryRunSuffix(input)}`,
  asksApproval: true,
  probesHealth: false,
  problems({ plan }, input) {
    const policy = approvalPolicyProblems(plan, input);
    if (!plan.nodes.every((node) => node.image === input.image)) return policy;
    return [...policy, { type: FailureType.AlreadyOnImage, message: `every node of ${plan.cluster} already runs ${input.image}` }];
  },
  planOf: ({ image, backupMethod }) => ({ target: image, ...(backupMethod ? { backupMethod } : {}) }),
};

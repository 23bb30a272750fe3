import { FailureType } from '../common/failure-types';
import type { Leftover, LeftoverKind } from '../common/leftovers';
import { procedureWorkflowId } from '../common/task-queue';
import type { CheckedCommon } from './input-checks';
import type { PreflightFacts, ProcedureDescriptor, Problem } from './descriptor';

const KIND: Record<LeftoverKind, string> = {
  'saved-container': 'saved container',
  'set-aside-database': 'set-aside database',
  'clone-backup': 'clone backup',
  'maintenance-on': 'maintenance page on, map key',
  'suspended-restart-policy': 'restart policy held at `no` on container',
};

/**
 * Every procedure refuses to build on what a run that did not finish left behind: a terminated
 * or reset workflow runs no undo, so a new procedure would start nodes next to saved containers,
 * restore over a half-restored database, or take the page down over nodes on two images. The
 * refusal lists each leftover with the exact command that resolves it, since the run that left
 * it cannot be asked any more. Pure: judged the same way by the pre-flight and the dry run.
 */
export function leftoverProblems({ plan, leftovers = [] }: Pick<PreflightFacts, 'plan' | 'leftovers'>): Problem[] {
  if (leftovers.length === 0) return [];
  const workflowId = procedureWorkflowId(plan.cluster);
  return [{
    type: FailureType.LeftoversFound,
    message: [
      `${plan.cluster} still has what a run that did not finish left behind (a terminated or reset workflow runs no undo; an abandoned rollback leaves the cluster as its status said). ` +
        'Nothing was touched. Resolve each of these, then start again:',
      ...leftovers.map((leftover, index) => `${index + 1}. ${describe(leftover)}: ${leftover.recovery}`),
      `The label in a name is the first 12 hex digits of the run ID that left it: \`temporal workflow list --query 'NocobaseCluster="${plan.cluster}"'\` finds that run, ` +
        `\`temporal workflow show --workflow-id ${workflowId} --run-id <run ID>\` shows how far it got.`,
    ].join('\n'),
    details: { leftovers },
  }];
}

/**
 * Everything a pre-flight refuses, in the order it checks: what interrupted runs left, then the
 * procedure's own refusals. The dry run lists them all; a real run fails with the first.
 */
export function preflightProblems<Checked extends CheckedCommon>(descriptor: Pick<ProcedureDescriptor<Checked, string>, 'problems'>, facts: PreflightFacts, input: Checked): Problem[] {
  return [...leftoverProblems(facts), ...descriptor.problems(facts, input)];
}

function describe({ kind, name, createdAt }: Leftover): string {
  return `${KIND[kind]} ${name}${createdAt ? ` (${createdAt})` : ''}`;
}

import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { readSigningKey, signToken, verifyToken, type SigningKey } from '../../adapters/approval/signing';
import { sendReport } from '../../adapters/smtp/mail';
import type { DecisionKind } from '../../common/approval-token';
import { FailureType } from '../../common/failure-types';
import type { NotificationOutcome } from '../../common/procedure-types';
import type { ApprovalsConfig } from '../../config/approval';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { workflowLink } from './workflow-link';

export interface DecisionRequestInput {
  cluster: string;
  subject: string;
  /** What is asked and what was checked; each approver's links and token are added to their copy. */
  text: string;
  kinds: DecisionKind[];
  /** How long the decision is waited for; the links expire then (or at `approvals.linkTtl`, if sooner). */
  validForMs?: number;
}

export interface DecisionRequestOutcome extends NotificationOutcome {
  /** One per approver mailed: the token's ID (never the token: this result is kept in history). */
  links: { recipient: string; tokenId: string; expiresAt: string }[];
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Every configured key, the signing one first; read on each call, so a rotated file is picked up. */
export function signingKeys(approvals: ApprovalsConfig | undefined, env: NodeJS.ProcessEnv = process.env): SigningKey[] {
  if (!approvals) throw ApplicationFailure.nonRetryable('the worker configuration has no "approvals:" section (signing keys and page URL)', FailureType.Misconfigured);
  return approvals.keys.map((source) => readSigningKey(source, env));
}

/** The approval page's link for a token: `<pageUrl>/a/<token>?d=<decision>`. */
export function approvalLink(pageUrl: string, token: string, decision: DecisionKind): string {
  return `${pageUrl.replace(/\/$/, '')}/a/${token}?d=${decision}`;
}

/**
 * What an approver's copy adds: approve and reject go through the page's links (or the `decide`
 * update); the other kinds are commands with the token, one per kind.
 */
function tokenLines(pageUrl: string, run: { workflowId: string; runId: string }, kinds: DecisionKind[], token: string, recipient: string, expiresAt: string): string[] {
  const target = `--workflow-id ${run.workflowId} --run-id ${run.runId}`;
  const paged = kinds.filter((kind) => kind === 'approve' || kind === 'reject');
  const lines: string[] = [];
  if (paged.length > 0) {
    lines.push(
      `Your links (they decide as ${recipient}, once, until ${expiresAt}; opening one only shows the page, its button decides):`,
      ...paged.map((kind) => `  ${kind === 'approve' ? 'Approve' : 'Reject'}: ${approvalLink(pageUrl, token, kind)}`),
      'Or from the CLI, with the same token:',
      `  temporal workflow update execute ${target} --name decide --input '{"decision":"${paged[0]}","token":"${token}"}'`,
    );
  }
  const commands: Partial<Record<DecisionKind, string>> = {
    maintenanceDone: `temporal workflow signal ${target} --name maintenanceDone --input '{"token":"${token}"}'`,
    retryRollback: `temporal workflow update execute ${target} --name retryRollback --input '{"token":"${token}"}'`,
    confirmDataLoss: `temporal workflow update execute ${target} --name retryRollback --input '{"token":"${token}","confirmDataLoss":true}'`,
    abandon: `temporal workflow update execute ${target} --name abandon --input '{"token":"${token}","reason":"<why>"}'`,
  };
  const other = kinds.filter((kind) => commands[kind]);
  if (other.length > 0) {
    lines.push(`Your token decides as ${recipient}, once, until ${expiresAt} (${other.join(' or ')}):`);
    for (const kind of other) lines.push(`  ${kind}: ${commands[kind]}`);
  }
  return lines;
}

export function createDecisionRequestActivities(deps: ActivityDeps) {
  return {
    /**
     * Mails the decision request: each approver with an email address gets a copy with their own
     * Approve and Reject links (one signed single-use token, bound to this run, naming them), the
     * other recipients a copy without. A retry mails new tokens; each still decides once, and one
     * person approves once. Returns the tokens' IDs only: tokens never enter history.
     */
    async sendDecisionRequest(input: DecisionRequestInput): Promise<DecisionRequestOutcome> {
      const cluster = getCluster(deps, input.cluster);
      const { approvals } = deps.config;
      const [key] = signingKeys(approvals);
      const execution = Context.current().info.workflowExecution;
      if (!approvals || !key || !execution) throw ApplicationFailure.nonRetryable('a decision request is mailed from a workflow, with signing keys', FailureType.Misconfigured);
      const approvers = cluster.approval.approvers.filter((approver) => EMAIL.test(approver));
      const others = cluster.notifications.recipients.filter((recipient) => !approvers.includes(recipient));
      const links: DecisionRequestOutcome['links'] = [];
      if (approvers.length + others.length === 0) return { sent: false, recipients: [], links, reason: 'the cluster has no approvers with an email address and no recipients' };
      if (!deps.mailer || !deps.config.smtp) return { sent: false, recipients: [...approvers, ...others], links, reason: 'the worker has no smtp configuration' };
      const nowMs = Date.now();
      const expiresAtMs = nowMs + Math.min(approvals.linkTtl, input.validForMs ?? approvals.linkTtl);
      const subject = `[nocobase-maintenance] ${input.cluster}: ${input.subject}`;
      const from = deps.config.smtp.from;
      const link = workflowLink(deps);
      let messageId: string | undefined;
      for (const recipient of approvers) {
        const { token, claims } = signToken(key, { workflowId: execution.workflowId, runId: execution.runId, recipient, kinds: input.kinds, expiresAtMs, nowMs });
        const expiresAt = new Date(claims.exp * 1000).toISOString();
        const text = [input.text, '', ...tokenLines(approvals.pageUrl, execution, input.kinds, token, recipient, expiresAt)].join('\n');
        messageId = await sendReport(deps.mailer, { from, to: [recipient], subject, text, ...(link ? { link } : {}) });
        links.push({ recipient, tokenId: claims.nonce, expiresAt });
      }
      if (others.length > 0) {
        messageId = await sendReport(deps.mailer, { from, to: others, subject, text: `${input.text}\n\n(The approvers received their own links to decide.)`, ...(link ? { link } : {}) });
      }
      log.info('decision request sent', { cluster: input.cluster, approvers: approvers.length, others: others.length });
      return { sent: true, recipients: [...approvers, ...others], links, ...(messageId ? { messageId } : {}) };
    },

    /**
     * Checks an approval token's signature and expiry with the worker's keys; the workflow judged
     * everything else. Read-only; safe to retry.
     */
    async verifyApprovalToken(input: { token: string }): Promise<{ valid: boolean; reason?: string; recipient?: string; tokenId?: string }> {
      const verdict = verifyToken(signingKeys(deps.config.approvals), input.token);
      if (!verdict.valid) return { valid: false, reason: verdict.reason };
      return { valid: true, recipient: verdict.claims.sub, tokenId: verdict.claims.nonce };
    },
  };
}

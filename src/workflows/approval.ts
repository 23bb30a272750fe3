import { ApplicationFailure, condition, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { claimsRefusal, parseToken, type DecisionKind, type TokenClaims } from '../common/approval-token';
import { approvalsNeeded, type ApprovalPolicyPlan } from '../common/procedure-types';
import type { TimeoutPolicy } from '../procedures/approval-input';
import { quick } from './activity-options';
import { approveSignal, decideUpdate, rejectSignal, type ApprovalStatus, type Decision, type DecisionChannel, type IgnoredDecision, type RecordedDecision } from './messages';

/** How many refused decisions the status lists; the rest are only counted (a flood must not grow the result). */
const MAX_IGNORED = 20;
/** Tokens with a bad signature a run checks before it refuses every further token unchecked. */
const MAX_INVALID_TOKENS = 10;
/** The failure type of a decision the `decide` update refused after its validator let it through. */
const REFUSED = 'DecisionRefused';
/** Two-person rule: two distinct approvals whatever `startedBy` says; names compared through the aliases. */
export const TWO_PERSON_PATCH = 'two-person-needs-two-approvers';
/** Signed mode: maintenanceDone and the rollback's decisions take mailed tokens too. */
export const SIGNED_EVERY_DECISION_PATCH = 'signed-every-decision';

type Judged = { refusal: string } | { who: string; how: DecisionChannel; claims?: TokenClaims };

/**
 * The human decision as an explicit state machine: not-requested → awaiting → approved | rejected
 * | timed-out. Handlers are registered when the workflow starts, so a signal that comes too early
 * or from someone not allowed is recorded in the status and ignored, never lost silently.
 *
 * Under a cluster's approval policy (plans that carry one): in `signed` mode only a token from the
 * approval mail decides, as the person it was mailed to. The validator refuses what needs no key
 * (wrong run, expired, wrong kind, used before, the starter under the two-person rule, a second
 * approval by the same person); the handler then has the signature checked by an activity (the
 * key never enters the workflow) before it records anything. Used tokens are remembered by nonce
 * in the workflow's state, which a worker restart rebuilds from history: a link decides once.
 */
export class Approval {
  readonly status: ApprovalStatus;
  private approvers: string[];
  private rules: ApprovalPolicyPlan | undefined;
  private startedBy: string | undefined;
  /** nonce → what it did: a token decides once, across worker restarts (replayed from history). */
  private readonly used = new Map<string, string>();
  private invalidTokens = 0;
  /** Under a policy whose plan carries aliases: other name → canonical name. */
  private aliases: Record<string, string> | undefined;
  /** Signed mode covers maintenanceDone and the rollback's decisions too (runs since the patch). */
  private signedEverywhere = false;

  constructor(approvers: string[] = []) {
    this.approvers = approvers;
    this.status = { state: 'not-requested', approvers, ignored: [] };
    setHandler(approveSignal, (input) => this.offer({ decision: 'approve', by: input?.by, ...(input?.comment ? { comment: input.comment } : {}) }));
    setHandler(rejectSignal, (input) => this.offer({ decision: 'reject', by: input?.by, ...(input?.reason ? { reason: input.reason } : {}) }));
    setHandler(decideUpdate, (input) => this.decideByUpdate(input), { validator: (input) => this.validate(input) });
  }

  /** The allowlist and the cluster's policy arrive with the cluster plan, after the handlers exist. */
  allow(approvers: string[], rules?: ApprovalPolicyPlan, startedBy?: string): void {
    this.approvers = approvers;
    this.status.approvers = approvers;
    if (!rules) return;
    // Taken here, in the workflow's own flow: a validator must never record a patch.
    if (patched(TWO_PERSON_PATCH)) {
      rules = { ...rules, minApprovals: approvalsNeeded(rules) };
      this.aliases = rules.aliases ?? {};
    }
    this.signedEverywhere = rules.mode === 'signed' && patched(SIGNED_EVERY_DECISION_PATCH);
    this.rules = rules;
    this.startedBy = startedBy;
    // Nobody learns from the status whose name to claim.
    this.status.approvers = [];
    this.status.mode = rules.mode;
    this.status.needed = rules.minApprovals;
    this.status.audit = [];
  }

  /** Who may decide on this cluster (the rollback guide asks too); empty: anyone. */
  allowed(): string[] {
    return this.approvers;
  }

  /** Whether `who` may decide on this cluster. */
  isApprover(who: string): boolean {
    if (this.approvers.length === 0) return true;
    if (!this.aliases) return this.approvers.includes(who);
    const name = this.canonical(who);
    return this.approvers.some((approver) => this.canonical(approver) === name);
  }

  /**
   * The one form a person's names are compared and recorded in: trimmed, lower case, through the
   * policy's aliases. Runs from before the aliases keep the name as given.
   */
  canonical(who: string): string {
    if (!this.aliases) return who;
    const name = who.trim().toLowerCase();
    return this.aliases[name] ?? name;
  }

  /** Whether every decision of this run (maintenanceDone, retryRollback, abandon) needs a mailed token. */
  get signedOnly(): boolean {
    return this.signedEverywhere;
  }

  /**
   * Why `token` cannot take a decision of this `kind` now (the checks that need no key), or its
   * claims. For the decisions other than approve and reject; the caller then redeems it.
   */
  judgeToken(token: unknown, kind: DecisionKind): { refusal: string } | { claims: TokenClaims } {
    if (token === undefined) return { refusal: signedOnlyRefusal(kind) };
    const parsed = parseToken(token);
    if ('malformed' in parsed) return { refusal: parsed.malformed };
    if (this.invalidTokens >= MAX_INVALID_TOKENS) return { refusal: `this run refused ${MAX_INVALID_TOKENS} tokens with a bad signature and checks no more` };
    const { workflowId, runId } = workflowInfo();
    const wrong = claimsRefusal(parsed.claims, { workflowId, runId, nowMs: Date.now(), decision: kind });
    if (wrong) return { refusal: wrong };
    const used = this.used.get(parsed.claims.nonce);
    if (used) return { refusal: `this link was already used (${used}): each link decides once` };
    if (!this.isApprover(parsed.claims.sub)) return { refusal: `${parsed.claims.sub} is not an approver of this cluster` };
    return { claims: parsed.claims };
  }

  /**
   * Has the token's signature checked where the key is (an activity) and uses it up: it decides
   * once. Returns who decides (the person it was mailed to); a bad token throws DecisionRefused.
   */
  async redeem(token: string, claims: TokenClaims, what: string): Promise<string> {
    // Reserved before the check: the same token sent twice at once decides once.
    this.used.set(claims.nonce, 'being checked');
    const verdict = await quick.verifyApprovalToken({ token });
    if (!verdict.valid) {
      this.used.delete(claims.nonce);
      this.invalidTokens++;
      throw ApplicationFailure.nonRetryable(verdict.reason ?? 'the token is not valid', REFUSED);
    }
    this.used.set(claims.nonce, `${what}, at ${now()}`);
    return this.canonical(claims.sub);
  }

  get policy(): ApprovalPolicyPlan | undefined {
    return this.rules;
  }

  /** Why a decision cannot be taken now, or undefined when it can. */
  refusal(input: Partial<Decision> | undefined): string | undefined {
    const judged = this.judge(input, 'update');
    return 'refusal' in judged ? judged.refusal : undefined;
  }

  /** Update validator: refuses at once, so the caller sees why and nothing enters history. */
  validate(input: Decision): void {
    const refusal = this.refusal(input);
    if (refusal) throw new Error(refusal);
  }

  /**
   * From now on a decision is taken. Opened together with the status saying "waiting for a
   * decision", so an operator who reads that and decides at once is never told nothing awaits.
   */
  open(): void {
    if (this.status.state === 'not-requested') this.status.state = 'awaiting';
  }

  /**
   * Waits for the decision (one may already have come since `open`); `timeoutMs` undefined
   * waits forever.
   */
  async wait(timeoutMs: number | undefined, onTimeout: TimeoutPolicy): Promise<ApprovalStatus['state']> {
    this.open();
    const decided = () => this.status.state !== 'awaiting';
    if (onTimeout === 'wait' || timeoutMs === undefined) {
      await condition(decided);
    } else if (!(await condition(decided, timeoutMs))) {
      this.status.state = onTimeout === 'proceed' ? 'approved' : 'timed-out';
      this.status.decision = { decision: onTimeout === 'proceed' ? 'approve' : 'reject', by: 'timeout', at: now(), via: 'timeout', ...(this.rules ? { how: 'timeout' as const } : {}) };
      this.status.audit?.push(this.status.decision);
    }
    return this.status.state;
  }

  /** Records a message that was refused; past MAX_IGNORED only counted. */
  ignore(entry: Omit<IgnoredDecision, 'at'>): void {
    if (this.status.ignored.length < MAX_IGNORED) this.status.ignored.push({ ...entry, at: now() });
    else this.status.ignoredMore = (this.status.ignoredMore ?? 0) + 1;
  }

  private judge(input: Partial<Decision> | undefined, via: 'signal' | 'update'): Judged {
    const refuse = (refusal: string): Judged => ({ refusal });
    if (!input || (input.decision !== 'approve' && input.decision !== 'reject')) {
      return refuse('expected {"decision": "approve" | "reject", "token": "<from the approval mail>"} (or "by": "<who>" where the cluster allows it)');
    }
    if (this.status.state !== 'awaiting') return refuse(`nothing awaits a decision (approval is ${this.status.state})`);
    const rules = this.rules;
    let who: string;
    let how: DecisionChannel;
    let claims: TokenClaims | undefined;
    if (rules && input.token !== undefined) {
      if (via === 'signal') return refuse('a token is taken by the decide update only (temporal workflow update execute --name decide)');
      const parsed = parseToken(input.token);
      if ('malformed' in parsed) return refuse(parsed.malformed);
      if (this.invalidTokens >= MAX_INVALID_TOKENS) return refuse(`this run refused ${MAX_INVALID_TOKENS} tokens with a bad signature and checks no more; it ends at its approval timeout`);
      const { workflowId, runId } = workflowInfo();
      const wrong = claimsRefusal(parsed.claims, { workflowId, runId, nowMs: Date.now(), decision: input.decision });
      if (wrong) return refuse(wrong);
      const used = this.used.get(parsed.claims.nonce);
      if (used) return refuse(`this link was already used (${used}): each link decides once`);
      ({ claims } = parsed);
      who = parsed.claims.sub;
      how = input.channel === 'link' ? 'link' : 'token';
    } else {
      if (rules?.mode === 'signed') {
        const { workflowId, runId } = workflowInfo();
        return refuse(
          `this cluster takes only signed decisions: open the Approve or Reject link in your approval mail, or send its token: temporal workflow update execute --workflow-id ${workflowId} --run-id ${runId} --name decide --input '{"decision":"${input.decision}","token":"<token from the mail>"}'`,
        );
      }
      if (typeof input.by !== 'string' || input.by.trim() === '') return refuse('a decision must say who makes it ("by")');
      who = input.by;
      how = 'open';
    }
    if (!this.isApprover(who)) return refuse(`${who} is not an approver of this cluster`);
    who = this.canonical(who);
    // Since the patch the rule needs two distinct approvers instead, which a starter cannot sidestep.
    if (input.decision === 'approve' && rules?.twoPersonRule && !this.aliases && samePerson(who, this.startedBy)) {
      return refuse(`${who} started this run; under the two-person rule someone else must approve it`);
    }
    const approvals = (this.status.audit ?? []).filter((entry) => entry.decision === 'approve');
    if (input.decision === 'approve' && approvals.some((entry) => samePerson(this.canonical(entry.by), who))) {
      return refuse(`${who} has already approved; ${(rules?.minApprovals ?? 1) - approvals.length} more approval(s) from other approvers are needed`);
    }
    return { who, how, ...(claims ? { claims } : {}) };
  }

  private offer(input: Partial<Decision>): void {
    const judged = this.judge(input, 'signal');
    if ('refusal' in judged) {
      this.ignore({ decision: input.decision ?? 'approve', by: String(input.by ?? '(nobody)'), why: judged.refusal });
      return;
    }
    this.accept(input as Decision, judged, 'signal');
  }

  private async decideByUpdate(input: Decision): Promise<RecordedDecision> {
    const judged = this.judge(input, 'update');
    if ('refusal' in judged) throw ApplicationFailure.nonRetryable(judged.refusal, REFUSED);
    if (judged.claims && patched('approval-token-verify')) {
      const { nonce } = judged.claims;
      // Reserved before the check: the same token sent twice at once decides once.
      this.used.set(nonce, 'being checked');
      const verdict = await quick.verifyApprovalToken({ token: input.token ?? '' });
      if (!verdict.valid) {
        this.used.delete(nonce);
        this.invalidTokens++;
        throw ApplicationFailure.nonRetryable(verdict.reason, REFUSED);
      }
      this.used.set(nonce, `to ${input.decision}, at ${now()}`);
      if (this.status.state !== 'awaiting') throw ApplicationFailure.nonRetryable(`nothing awaits a decision any more (approval is ${this.status.state})`, REFUSED);
    }
    return this.accept(input, judged, 'update');
  }

  private accept(input: Decision, judged: Exclude<Judged, { refusal: string }>, via: 'signal' | 'update'): RecordedDecision {
    const decision: RecordedDecision = {
      decision: input.decision,
      by: judged.who,
      ...(input.comment ? { comment: input.comment } : {}),
      ...(input.reason ? { reason: input.reason } : {}),
      at: now(),
      via,
      ...(this.rules ? { how: judged.how } : {}),
      ...(judged.claims ? { tokenId: judged.claims.nonce } : {}),
    };
    const audit = this.status.audit;
    audit?.push(decision);
    const approvals = (audit ?? []).filter((entry) => entry.decision === 'approve').length;
    if (input.decision === 'approve' && this.rules && approvals < this.rules.minApprovals) return decision;
    this.status.decision = decision;
    this.status.state = input.decision === 'approve' ? 'approved' : 'rejected';
    return decision;
  }
}

function signedOnlyRefusal(kind: DecisionKind): string {
  const { workflowId, runId } = workflowInfo();
  const how = kind === 'maintenanceDone' ? `temporal workflow signal --workflow-id ${workflowId} --run-id ${runId} --name maintenanceDone --input '{"token":"<token from the mail>"}'` : `temporal workflow update execute --workflow-id ${workflowId} --run-id ${runId} --name ${kind === 'confirmDataLoss' ? 'retryRollback' : kind} --input '{"token":"<token from the mail>"${kind === 'confirmDataLoss' ? ',"confirmDataLoss":true' : ''}${kind === 'abandon' ? ',"reason":"<why>"' : ''}}'`;
  return `this cluster takes only signed decisions: send the token mailed to you for ${kind}: ${how}`;
}

function samePerson(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.trim().toLowerCase() === b.trim().toLowerCase();
}

function now(): string {
  return new Date(Date.now()).toISOString();
}

import { z } from 'zod';
import { duration } from './duration';

/** The approval parts of the configuration: a cluster's policy, and the signing of the links. */


/** A cluster's `approval:` section. Defaults keep what clusters did before it had a policy (open mode). */
export const approvalPolicySchema = z
  .strictObject({
    /** Who may approve or reject; a decision from anyone else is refused and recorded. Empty: anyone. */
    approvers: z.array(z.string().min(1)).default([]),
    /**
     * `signed`: only a decision carrying a token from the approval mail counts (its link, or the
     * token on the CLI); `open`: a plain `{"by": "<approver>"}` counts too, as before.
     */
    mode: z.enum(['open', 'signed'], { error: 'expected open or signed' }).default('open'),
    /** Distinct approvers whose approval is needed; one rejection is enough to reject. */
    minApprovals: z.number().int().min(1).default(1),
    /**
     * At least two distinct approvers must approve (more if `minApprovals` says so), whatever the
     * input's `startedBy` claims: the starter can be at most one of them. Signed mode only: in
     * open mode a name is typed, so one person could approve twice under two names.
     */
    twoPersonRule: z.boolean().default(false),
    /**
     * Other names of an approver → the name in `approvers` they stand for (a login such as
     * `alice` → `alice@example.com`): names are compared, case-insensitively, in that one form.
     */
    aliases: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** Whether a start may say `approval.onTimeout: proceed` (go on when nobody answers). */
    allowProceedOnTimeout: z.boolean().default(false),
    /** The longest a decision may be waited for: a longer `approval.timeout` is shortened to it, `wait` refused. */
    maxApprovalWait: duration.optional(),
  })
  .refine((policy) => !policy.twoPersonRule || policy.mode === 'signed', {
    path: ['twoPersonRule'],
    message: 'the two-person rule needs mode: signed (in open mode anyone can type two names); set mode: signed, or drop twoPersonRule',
  })
  .default({ approvers: [], mode: 'open', minApprovals: 1, twoPersonRule: false, aliases: {}, allowProceedOnTimeout: false });

const keySchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'expected a short key ID of letters, digits, - and _'),
    /** A file readable by the worker and the page holding the key (e.g. `openssl rand -hex 32`). */
    keyFile: z.string().startsWith('/', 'expected an absolute path').optional(),
    keyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
  })
  .refine((key) => (key.keyFile === undefined) !== (key.keyEnv === undefined), { message: 'expected exactly one of keyFile or keyEnv (keys never go in this file)' });

/** The top-level `approvals:` section: the links' keys and the page they open. */
export const approvalsSchema = z.strictObject({
  /** The first key signs; every listed key verifies (to rotate, put the new key first, drop the old one later). */
  keys: z.array(keySchema).min(1),
  /** The approval page as the approvers' browsers reach it: every link starts with it. */
  pageUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as https://maintenance.example.com/approvals' }),
  /** Where `npm run approvals` listens: host:port. */
  listen: z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port such as 127.0.0.1:18190').default('127.0.0.1:18190'),
  /** How long a link stays valid at most (a shorter approval timeout shortens it). */
  linkTtl: duration.default(86_400_000),
});

export type ApprovalPolicyConfig = z.infer<typeof approvalPolicySchema>;
export type ApprovalsConfig = z.infer<typeof approvalsSchema>;

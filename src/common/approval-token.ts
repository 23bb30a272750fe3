/**
 * Signed approval tokens: what an approval link carries. Pure code (no Node built-ins): the
 * workflow's update validator reads a token's claims with it, while the signature is checked only
 * where the key is (the approval page and the `verifyApprovalToken` activity;
 * src/adapters/approval/signing.ts). Nothing here ever sees the key.
 *
 *   nma1.<claims: base64url of ASCII JSON>.<HMAC-SHA256(key[kid], "nma1.<claims>"): base64url>
 */

export const TOKEN_PREFIX = 'nma1';

/**
 * What a token may decide: the approval (approve, reject), the end of manual work
 * (maintenanceDone), and a blocked rollback's decisions (retryRollback, abandon, and
 * confirmDataLoss: a retryRollback that accepts losing what users wrote). A token mailed for one
 * kind of decision never takes another.
 */
export const DECISION_KINDS = ['approve', 'reject', 'maintenanceDone', 'retryRollback', 'abandon', 'confirmDataLoss'] as const;
export type DecisionKind = (typeof DECISION_KINDS)[number];

export interface TokenClaims {
  /** The key that signed it (its `id` in the configuration's `approvals.keys`). */
  kid: string;
  /** Workflow ID and run ID: the token decides this run and no other. */
  wid: string;
  rid: string;
  /** The approver it was mailed to: whoever uses it decides as this person. */
  sub: string;
  kinds: DecisionKind[];
  /** Issued and expires, in seconds since the epoch. */
  iat: number;
  exp: number;
  /** Random, unique per token: the token's ID, and what makes it single-use. */
  nonce: string;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url of a string whose characters are all below 256. */
export function base64url(binary: string): string {
  let out = '';
  for (let i = 0; i < binary.length; i += 3) {
    const a = binary.charCodeAt(i);
    const b = i + 1 < binary.length ? binary.charCodeAt(i + 1) : -1;
    const c = i + 2 < binary.length ? binary.charCodeAt(i + 2) : -1;
    out += ALPHABET[a >> 2]! + ALPHABET[((a & 3) << 4) | (b < 0 ? 0 : b >> 4)]!;
    if (b >= 0) out += ALPHABET[((b & 15) << 2) | (c < 0 ? 0 : c >> 6)]!;
    if (c >= 0) out += ALPHABET[c & 63]!;
  }
  return out;
}

/** The string a base64url text encodes, or undefined when it is not base64url. */
export function fromBase64url(text: string): string | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  let out = '';
  let bits = 0;
  let value = 0;
  for (const char of text) {
    value = (value << 6) | ALPHABET.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((value >> bits) & 255);
    }
  }
  return out;
}

/** JSON with every non-ASCII character escaped, so one character is one byte. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What is signed: the prefix and the encoded claims. */
export function signedPart(claims: TokenClaims): string {
  return `${TOKEN_PREFIX}.${base64url(asciiJson(claims))}`;
}

export interface ParsedToken {
  claims: TokenClaims;
  /** `nma1.<claims>`, the part the signature covers. */
  signed: string;
  signature: string;
}

/** The token's parts and claims, or why it is not a token at all. Checks no signature. */
export function parseToken(token: unknown): ParsedToken | { malformed: string } {
  if (typeof token !== 'string') return { malformed: 'the token must be a string' };
  const parts = token.trim().split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX) return { malformed: `not an approval token (expected ${TOKEN_PREFIX}.<claims>.<signature>, copied whole from the mail)` };
  const json = fromBase64url(parts[1]!);
  let claims: Partial<TokenClaims>;
  try {
    claims = JSON.parse(json ?? '') as Partial<TokenClaims>;
  } catch {
    return { malformed: 'the token is damaged (its claims cannot be read): copy it whole from the mail' };
  }
  const strings = ['kid', 'wid', 'rid', 'sub', 'nonce'] as const;
  if (
    typeof claims !== 'object' || claims === null ||
    strings.some((key) => typeof claims[key] !== 'string' || claims[key] === '') ||
    typeof claims.iat !== 'number' || typeof claims.exp !== 'number' ||
    !Array.isArray(claims.kinds) || claims.kinds.some((kind) => !(DECISION_KINDS as readonly unknown[]).includes(kind))
  ) {
    return { malformed: 'the token is damaged (its claims are incomplete): copy it whole from the mail' };
  }
  return { claims: claims as TokenClaims, signed: `${parts[0]}.${parts[1]}`, signature: parts[2]! };
}

/** Where the token is being used: the run that waits, and the time now. */
export interface TokenUse {
  workflowId: string;
  runId: string;
  nowMs: number;
  decision: DecisionKind;
}

/**
 * Why these claims cannot decide this run now, or undefined. The checks that need no key: the
 * signature is checked apart (the page, the `verifyApprovalToken` activity).
 */
export function claimsRefusal(claims: TokenClaims, use: TokenUse): string | undefined {
  if (claims.wid !== use.workflowId) return `this token was issued for ${claims.wid}, not ${use.workflowId}`;
  if (claims.rid !== use.runId) {
    return `this token was issued for run ${claims.rid} of ${claims.wid}; the run waiting now is ${use.runId}: use the link in the newest approval mail`;
  }
  if (claims.exp * 1000 <= use.nowMs) return `this link expired at ${new Date(claims.exp * 1000).toISOString()}`;
  if (!claims.kinds.includes(use.decision)) return `this link may only ${claims.kinds.join(' or ')}, not ${use.decision}`;
  return undefined;
}

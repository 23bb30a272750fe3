import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { base64url, parseToken, signedPart, type DecisionKind, type TokenClaims } from '../../common/approval-token';

/**
 * The approval links' signing keys. Read by the worker and the approval page from the files or
 * environment variables the configuration names; never passed to a workflow, so never in history.
 */
export interface SigningKey {
  id: string;
  secret: Buffer;
}

export interface KeySource {
  id: string;
  keyFile?: string | undefined;
  keyEnv?: string | undefined;
}

/** At least 32 bytes of key, however it is written (hex, base64 or raw): HMAC-SHA256's block. */
const MIN_KEY_BYTES = 32;

export function readSigningKey(source: KeySource, env: NodeJS.ProcessEnv = process.env): SigningKey {
  let text: string | undefined;
  if (source.keyEnv !== undefined) {
    text = env[source.keyEnv];
    if (!text) throw new Error(`approval signing key ${source.id}: environment variable ${source.keyEnv} is not set`);
  } else {
    try {
      text = readFileSync(source.keyFile ?? '', 'utf8');
    } catch (error) {
      throw new Error(`approval signing key ${source.id}: cannot read ${source.keyFile} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  const secret = Buffer.from(text.trim(), 'utf8');
  if (secret.length < MIN_KEY_BYTES) throw new Error(`approval signing key ${source.id} is too short (${secret.length} bytes; at least ${MIN_KEY_BYTES}: e.g. openssl rand -hex 32)`);
  return { id: source.id, secret };
}

function mac(key: SigningKey, signed: string): string {
  return base64url(createHmac('sha256', key.secret).update(signed).digest().toString('latin1'));
}

export interface TokenRequest {
  workflowId: string;
  runId: string;
  recipient: string;
  kinds: DecisionKind[];
  expiresAtMs: number;
  nowMs?: number;
}

/** A new single-use token for one recipient, signed with `key`. */
export function signToken(key: SigningKey, request: TokenRequest): { token: string; claims: TokenClaims } {
  const claims: TokenClaims = {
    kid: key.id,
    wid: request.workflowId,
    rid: request.runId,
    sub: request.recipient,
    kinds: request.kinds,
    iat: Math.floor((request.nowMs ?? Date.now()) / 1000),
    exp: Math.floor(request.expiresAtMs / 1000),
    nonce: base64url(randomBytes(16).toString('latin1')),
  };
  const signed = signedPart(claims);
  return { token: `${signed}.${mac(key, signed)}`, claims };
}

export type Verdict = { valid: true; claims: TokenClaims } | { valid: false; reason: string; claims?: TokenClaims };

/**
 * Checks the token's form, key, signature and expiry. Which run it is used on, and whether it was
 * used before, only the workflow knows (src/workflows/approval.ts).
 */
export function verifyToken(keys: SigningKey[], token: unknown, nowMs: number = Date.now()): Verdict {
  const parsed = parseToken(token);
  if ('malformed' in parsed) return { valid: false, reason: parsed.malformed };
  const { claims } = parsed;
  const key = keys.find((candidate) => candidate.id === claims.kid);
  if (!key) return { valid: false, reason: `the token was signed with key "${claims.kid}", which this worker does not have (rotated away?)`, claims };
  const expected = Buffer.from(mac(key, parsed.signed));
  const given = Buffer.from(parsed.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { valid: false, reason: 'the token\'s signature is not valid: it was altered or not issued by this deployment', claims };
  }
  if (claims.exp * 1000 <= nowMs) return { valid: false, reason: `this link expired at ${new Date(claims.exp * 1000).toISOString()}`, claims };
  return { valid: true, claims };
}

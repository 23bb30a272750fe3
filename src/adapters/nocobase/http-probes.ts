/**
 * What a running NocoBase node says about itself over HTTP. Probes never throw: a node that does
 * not answer is an observation ("not ready yet"), not an error; the caller decides how long to wait.
 */

import http from 'node:http';
import https from 'node:https';

const PROBE_TIMEOUT_MS = 2_000;

/**
 * One GET on a connection of its own, closed after the answer: a probe must see what a new visitor
 * sees now. A kept-alive connection through a Kubernetes Service (or any L4 balancer) stays with
 * the backend it was opened to, so after a switch it would go on answering for the old one.
 */
function probeGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const request = client.get(target, { agent: false, timeout: PROBE_TIMEOUT_MS, headers: { connection: 'close' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`), { code: 'TIMEOUT' })));
    request.on('error', reject);
  });
}

/** Why nothing answered: the socket's code (ECONNREFUSED…) or the message. */
function noAnswer(error: unknown): string {
  const { cause, code, message } = error as { cause?: { code?: string; message?: string }; code?: string; message: string };
  return cause?.code ?? cause?.message ?? code ?? message;
}

/** One answer of the health check. `status` and `message` are there when the node answered HTTP. */
export interface HealthAnswer {
  ok: boolean;
  /** `ok`, NocoBase's error code (`APP_ERROR`, `APP_COMMANDING`, a PostgreSQL code…), or why nothing answered. */
  code: string;
  status?: number;
  message?: string;
}

/** NocoBase's gateway answers 503 with `{ error: { code, message } }` while it is not running. */
export async function probeHealth(url: string): Promise<HealthAnswer> {
  try {
    const response = await probeGet(url);
    const { body } = response;
    if (response.status === 200) return { ok: true, code: 'ok', status: 200 };
    let code = `HTTP ${response.status}`;
    let message: string | undefined;
    try {
      const error = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      if (typeof error?.code === 'string') code = error.code;
      if (typeof error?.message === 'string') message = error.message;
    } catch {
      // not JSON: keep the status
    }
    return { ok: false, code, status: response.status, ...(message === undefined ? {} : { message }) };
  } catch (error) {
    return { ok: false, code: noAnswer(error) };
  }
}

/**
 * NocoBase's 503 codes for "working on it" (its gateway's app errors): preparing, starting,
 * initialising, running a command such as the upgrade of a quickstart. Waiting on them is right,
 * however long (an upgrade may take minutes), up to `timeouts.nodeReady`.
 */
const PROGRESS_CODES: ReadonlySet<string> = new Set([
  'APP_PREPARING', 'APP_STARTING', 'APP_INITIALIZING', 'APP_INITIALIZED', 'APP_COMMANDING', 'COMMAND_END',
]);

/**
 * How to read a health answer that is not 200:
 * - `failed`: the application says it failed (`APP_ERROR`: a start or upgrade threw; NocoBase stays
 *   up in that state and never recovers by itself);
 * - `suspect`: a 503 with another error (a PostgreSQL code, `APP_STOPPED`, `COMMAND_ERROR`…) that
 *   is terminal if it does not change for a while — the caller keeps the grace;
 * - `waiting`: progress, or no HTTP answer at all (not listening yet, a proxy in between).
 */
export function healthVerdict(answer: HealthAnswer): 'ready' | 'waiting' | 'suspect' | 'failed' {
  if (answer.ok) return 'ready';
  if (answer.code === 'APP_ERROR') return 'failed';
  if (answer.status === 503 && !PROGRESS_CODES.has(answer.code)) return 'suspect';
  return 'waiting';
}

/**
 * NocoBase's public `app:getInfo`, beside the health check (so a sub-path deployment keeps its
 * prefix); otherwise at the URL's origin.
 */
export function appInfoUrl(healthUrl: string): string {
  const url = new URL(healthUrl);
  const base = url.pathname.endsWith('/api/__health_check') ? url.pathname.slice(0, -'/__health_check'.length) : '/api';
  return `${url.origin}${base}/app:getInfo`;
}

/** What `app:getInfo` answered: the version NocoBase reads from its database, or why not. */
export type AppInfoAnswer = { ok: true; version: string | null } | { ok: false; reason: string };

/**
 * Asks the node for `app:getInfo`. Health answers 200 while the node's database is down; this
 * endpoint reads the database, so a 200 here is the node's own proof that it can reach it.
 */
export async function probeAppInfo(healthUrl: string): Promise<AppInfoAnswer> {
  try {
    const response = await probeGet(appInfoUrl(healthUrl));
    const { body } = response;
    if (response.status !== 200) {
      let reason = `HTTP ${response.status}`;
      try {
        const error = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } } | null)?.error;
        if (error) reason += ` ${String(error.code ?? '')} ${String(error.message ?? '')}`.trimEnd();
      } catch {
        // not JSON: the status says enough
      }
      return { ok: false, reason };
    }
    const version = (JSON.parse(body) as { data?: { version?: unknown } } | null)?.data?.version;
    return { ok: true, version: typeof version === 'string' ? version : null };
  } catch (error) {
    return { ok: false, reason: noAnswer(error) };
  }
}

/** The public URL's HTTP status, or the reason it gave none. */
export async function probeStatus(url: string): Promise<number | string> {
  return probeGet(url).then((response) => response.status, (error: unknown) => noAnswer(error));
}

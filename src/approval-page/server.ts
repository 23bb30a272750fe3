import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { verifyToken, type SigningKey } from '../adapters/approval/signing';
import type { TokenClaims } from '../common/approval-token';
import type { ProcessLogger } from '../logging/process-logger';
import { inProcedureTrace } from '../tracing/procedure-trace';
import { decideUpdate, statusQuery, type Decision } from '../workflows/messages';
import { decidedPage, decisionPage, refusedPage } from './render';

export interface ApprovalPageOptions {
  client: Client;
  /** Read on each request, so a rotated key file is picked up. */
  keys: () => SigningKey[];
  /** Where each decision (and refusal) is logged, with the procedure's cluster, workflow and run; none when unset. */
  log?: ProcessLogger;
}

const MAX_BODY = 16 * 1024;

/**
 * The approval page the mailed links open: `GET /a/<token>?d=approve|reject` checks the token's
 * signature and shows the procedure's state and a confirm form; only `POST /a/<token>` decides,
 * by sending the `decide` update with the token (the workflow checks it again, and that it was
 * not used before). A mail scanner that fetches the link decides nothing.
 */
export function createApprovalPage({ client, keys, log }: ApprovalPageOptions): Server {
  return createServer((request, response) => {
    handle(request, response).catch((error: unknown) => send(response, 500, refusedPage('Error', `the page failed: ${(error as Error).message}`)));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://approval.page');
    if (url.pathname === '/health') return send(response, 200, 'ok', 'text/plain');
    const match = /^\/a\/([A-Za-z0-9_.-]+)$/.exec(url.pathname);
    if (!match) return send(response, 404, refusedPage('Not found', 'this is not an approval link'));
    const token = match[1]!;
    const verdict = verifyToken(keys(), token);
    if (!verdict.valid) return send(response, 403, refusedPage('This link cannot decide', verdict.reason));
    const { claims } = verdict;
    const handle = client.workflow.getHandle(claims.wid, claims.rid);
    if (request.method === 'GET' || request.method === 'HEAD') {
      const description = await handle.describe().catch(() => undefined);
      if (!description) return send(response, 404, refusedPage('Procedure not found', `no run ${claims.rid} of ${claims.wid}`));
      if (description.status.name !== 'RUNNING') return send(response, 410, refusedPage('This procedure has ended', `run ${claims.rid} of ${claims.wid} is ${description.status.name.toLowerCase()}: nothing awaits a decision`));
      const status = await handle.query(statusQuery);
      const wanted = url.searchParams.get('d') === 'reject' ? 'reject' : 'approve';
      // The page decides approve and reject only; a token for a rollback's decision is used from the CLI or the UI.
      const kinds = claims.kinds.filter((kind): kind is 'approve' | 'reject' => kind === 'approve' || kind === 'reject');
      if (kinds.length === 0) return send(response, 400, refusedPage('Not decided on this page', `this token is for ${claims.kinds.join(' or ')}: use the command in your mail`));
      const decision = kinds.includes(wanted) ? wanted : kinds[0]!;
      return send(response, 200, decisionPage(claims, status, decision, url.pathname));
    }
    if (request.method !== 'POST') return send(response, 405, refusedPage('Not allowed', 'open the link, then confirm with the button'));
    const form = new URLSearchParams(await readBody(request));
    const decision = form.get('decision');
    if (decision !== 'approve' && decision !== 'reject') return send(response, 400, refusedPage('Nothing decided', 'the form did not say approve or reject'));
    const note = (form.get('note') ?? '').trim().slice(0, 2000);
    const input: Decision = { decision, token, channel: 'link', ...(note ? (decision === 'approve' ? { comment: note } : { reason: note }) : {}) };
    // The procedure's own fields, as on the worker's lines about it (src/logging/log-line.ts).
    const fields = (status?: { cluster: string; procedure: string }) =>
      ({ ...(status ? { cluster: status.cluster, procedure: status.procedure } : {}), workflowId: claims.wid, runId: claims.rid, decision, by: claims.sub });
    try {
      // Traced (OTEL_EXPORTER_OTLP_ENDPOINT), the decision joins the trace of the procedure's start.
      const recorded = await inProcedureTrace(client, { workflowId: claims.wid, runId: claims.rid }, () => handle.executeUpdate(decideUpdate, { args: [input] }));
      const status = await handle.query(statusQuery).catch(() => undefined);
      log?.info('decision recorded', fields(status));
      return send(response, 200, decidedPage(recorded, status));
    } catch (error) {
      const message = refusalOf(error, claims);
      log?.warn('decision refused', { ...fields(await handle.query(statusQuery).catch(() => undefined)), refusal: message });
      return send(response, 409, refusedPage('The procedure refused this decision', message));
    }
  }
}

function refusalOf(error: unknown, claims: TokenClaims): string {
  if (error instanceof WorkflowUpdateFailedError) return error.cause?.message ?? error.message;
  const message = (error as Error).message ?? String(error);
  if (/completed|not found/i.test(message)) return `run ${claims.rid} of ${claims.wid} has ended: nothing awaits a decision`;
  return message;
}

async function readBody(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) {
    body += String(chunk);
    if (body.length > MAX_BODY) throw new Error('the form is too large');
  }
  return body;
}

function send(response: ServerResponse, code: number, body: string, type = 'text/html; charset=utf-8'): void {
  response.writeHead(code, {
    'content-type': type,
    // The token is in the URL: it must not leak to other sites, caches or frames.
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
  });
  response.end(body);
}

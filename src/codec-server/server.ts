import type { Payload } from '@temporalio/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { CodecServerOptions } from './config';

// Temporal's remote codec protocol, as the Web UI and `temporal --codec-endpoint` call it:
// POST /encode and POST /decode with `{"payloads":[{"metadata":{k: base64},"data": base64}]}`
// (proto3 JSON of Payloads), the namespace in X-Namespace, answered in the same shape.

const MAX_BODY_BYTES = 32 * 1024 * 1024;
const ALLOWED_HEADERS = 'authorization, content-type, x-namespace';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The codec server; the caller listens (`server.listen(options.port, options.host)`) and closes it. */
export function createCodecServer(options: CodecServerOptions): Server {
  const expected = digest(options.token);
  return createServer((request, response) => {
    void handle(options, expected, request, response).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      send(response, status, { error: message });
    });
  });
}

async function handle(options: CodecServerOptions, expected: Buffer, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const origin = request.headers.origin?.replace(/\/+$/, '');
  const corsAllowed = origin !== undefined && options.corsOrigins.includes(origin);
  if (corsAllowed) {
    response.setHeader('Access-Control-Allow-Origin', origin);
    response.setHeader('Access-Control-Allow-Credentials', 'true');
  }
  response.setHeader('Vary', 'Origin');
  const path = (request.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';

  if (request.method === 'OPTIONS') {
    if (!corsAllowed) throw new HttpError(403, 'origin not allowed');
    response.writeHead(204, {
      'Access-Control-Allow-Methods': 'POST, OPTIONS',
      'Access-Control-Allow-Headers': ALLOWED_HEADERS,
      'Access-Control-Max-Age': '600',
    });
    response.end();
    return;
  }
  if (request.method === 'GET' && path === '/health') return send(response, 200, { status: 'ok' });
  if (path !== '/encode' && path !== '/decode') throw new HttpError(404, 'not found: POST /encode or /decode');
  if (request.method !== 'POST') throw new HttpError(405, 'use POST');

  // Authentication before the body is read: a refused caller learns nothing of any payload.
  const tokenless = origin !== undefined && options.tokenlessOrigins.includes(origin);
  if (!tokenless) authenticate(request, response, expected);
  const namespace = header(request, 'x-namespace');
  if (options.namespaces.length > 0 && !options.namespaces.includes(namespace ?? '')) {
    throw new HttpError(403, `namespace ${JSON.stringify(namespace ?? '')} is not served here`);
  }

  const payloads = fromJson(await readJson(request));
  const result = path === '/encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
  send(response, 200, { payloads: result.map(toJson) });
}

function authenticate(request: IncomingMessage, response: ServerResponse, expected: Buffer): void {
  const match = /^Bearer\s+(.+)$/i.exec(header(request, 'authorization') ?? '');
  // Digests of equal length, so timingSafeEqual neither throws nor leaks the token's length.
  if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
    response.setHeader('WWW-Authenticate', 'Bearer realm="codec"');
    throw new HttpError(401, match ? 'invalid token' : 'missing bearer token');
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

function fromJson(body: unknown): Payload[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body must be {"payloads": [...]}');
  // Protobuf JSON leaves an empty repeated field out: the CLI sends `{}` for a query without arguments.
  const payloads = (body as { payloads?: unknown }).payloads ?? [];
  if (!Array.isArray(payloads)) throw new HttpError(400, 'body must be {"payloads": [...]}');
  return payloads.map((entry: JsonPayload) => ({
    metadata: Object.fromEntries(Object.entries(entry?.metadata ?? {}).map(([key, value]) => [key, Buffer.from(String(value), 'base64')])),
    data: Buffer.from(entry?.data ?? '', 'base64'),
  }));
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return void response.end();
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}

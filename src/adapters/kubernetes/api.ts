import https from 'node:https';
import type { Readable } from 'node:stream';
import WebSocket from 'ws';
import type { KubeConnection } from './connection';

/**
 * The one client of the Kubernetes API: JSON requests (get, merge-patch, create, delete) and exec
 * into a pod over the API server's WebSocket (channel.k8s.io). Nothing else in the project talks to
 * Kubernetes. Errors keep the API's status and reason (404 NotFound, 409 Conflict, 403 Forbidden...)
 * so callers decide what is permanent.
 */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string | undefined,
  ) {
    super(message);
  }
}

export const isKubeNotFound = (error: unknown): boolean => error instanceof KubeApiError && error.status === 404;
export const isKubeConflict = (error: unknown): boolean => error instanceof KubeApiError && error.status === 409;

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

export interface ExecOptions {
  container?: string;
  /** Sent to the command's stdin, which is closed at its end. */
  stdin?: Readable;
  /** Receives stdout as it comes instead of collecting it (ExecResult.stdout is then empty). */
  onStdout?: (chunk: Buffer) => void | Promise<void>;
  signal?: AbortSignal;
}

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const CLOSE = 255;

export class KubeApi {
  private readonly agent: https.Agent;

  constructor(readonly connection: KubeConnection) {
    this.agent = new https.Agent({
      keepAlive: true,
      ...(connection.ca ? { ca: connection.ca } : {}),
      ...(connection.cert ? { cert: connection.cert } : {}),
      ...(connection.key ? { key: connection.key } : {}),
    });
  }

  private headers(contentType?: string): Record<string, string> {
    const token = this.connection.token?.();
    return {
      accept: 'application/json',
      ...(contentType ? { 'content-type': contentType } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
  }

  async request<T>(method: string, apiPath: string, body?: unknown, contentType = 'application/json', raw = false): Promise<T> {
    const url = new URL(apiPath, this.connection.server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = https.request(url, { method, agent: this.agent, headers: this.headers(payload ? contentType : undefined), timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve((raw ? text : text ? JSON.parse(text) : {}) as T);
            return;
          }
          let reason: string | undefined;
          let message = text.slice(0, 500);
          try {
            const parsed = JSON.parse(text) as { reason?: string; message?: string };
            reason = parsed.reason;
            message = parsed.message ?? message;
          } catch {
            // not a Status object: keep the text
          }
          reject(new KubeApiError(`${method} ${url.pathname}: ${status} ${reason ?? ''} ${message}`.replace(/\s+/g, ' ').trim(), status, reason));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer from ${this.connection.server} within 30s`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  get<T>(apiPath: string): Promise<T> {
    return this.request<T>('GET', apiPath);
  }

  /** A GET whose answer is text (a pod's log). */
  getText(apiPath: string): Promise<string> {
    return this.request<string>('GET', apiPath, undefined, 'application/json', true);
  }

  /** A JSON merge patch (RFC 7386): `null` removes a key. */
  mergePatch<T>(apiPath: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', apiPath, patch, 'application/merge-patch+json');
  }

  create<T>(apiPath: string, body: unknown): Promise<T> {
    return this.request<T>('POST', apiPath, body);
  }

  async delete(apiPath: string, body?: unknown): Promise<boolean> {
    try {
      await this.request('DELETE', apiPath, body);
      return true;
    } catch (error) {
      if (isKubeNotFound(error)) return false;
      throw error;
    }
  }

  /**
   * Runs `command` in a pod's container and returns its exit code (the API's error channel says it;
   * a command that could not start is an error). stdin, when given, is streamed in and closed.
   */
  exec(namespace: string, pod: string, command: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const url = new URL(`/api/v1/namespaces/${namespace}/pods/${pod}/exec`, this.connection.server);
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
    for (const part of command) url.searchParams.append('command', part);
    if (options.container) url.searchParams.set('container', options.container);
    url.searchParams.set('stdout', 'true');
    url.searchParams.set('stderr', 'true');
    if (options.stdin) url.searchParams.set('stdin', 'true');
    const token = this.connection.token?.();
    return new Promise<ExecResult>((resolve, reject) => {
      const socket = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], {
        ...(this.connection.ca ? { ca: this.connection.ca } : {}),
        ...(this.connection.cert ? { cert: this.connection.cert } : {}),
        ...(this.connection.key ? { key: this.connection.key } : {}),
        ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      });
      const stdout: Buffer[] = [];
      let stderr = '';
      let status: { status?: string; message?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } } | undefined;
      let pending: Promise<unknown> = Promise.resolve();
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', abort);
        if (error) {
          reject(error);
          return;
        }
        void pending.then(() => {
          if (!status) {
            reject(new Error(`exec in ${namespace}/${pod}: the connection closed without an exit status`));
            return;
          }
          if (status.status === 'Success') {
            resolve({ exitCode: 0, stdout: Buffer.concat(stdout), stderr });
            return;
          }
          const exit = status.details?.causes?.find((cause) => cause.reason === 'ExitCode')?.message;
          if (status.reason === 'NonZeroExitCode' && exit !== undefined) {
            resolve({ exitCode: Number(exit), stdout: Buffer.concat(stdout), stderr });
            return;
          }
          reject(new Error(`exec in ${namespace}/${pod}: ${status.message ?? JSON.stringify(status)}`));
        }, reject);
      };
      const abort = () => {
        socket.terminate();
        finish(new Error(`exec in ${namespace}/${pod}: cancelled`));
      };
      options.signal?.addEventListener('abort', abort);
      socket.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          let reason: string | undefined;
          let message = Buffer.concat(chunks).toString('utf8').slice(0, 500);
          try {
            const parsed = JSON.parse(message) as { reason?: string; message?: string };
            reason = parsed.reason;
            message = parsed.message ?? message;
          } catch {
            // keep the text
          }
          finish(new KubeApiError(`exec in ${namespace}/${pod}: ${res.statusCode} ${message}`, res.statusCode ?? 0, reason));
        });
      });
      socket.on('error', (error) => finish(error));
      socket.on('open', () => {
        const input = options.stdin;
        if (!input) return;
        input.on('data', (chunk: Buffer) => {
          socket.send(Buffer.concat([Buffer.from([STDIN]), chunk]));
        });
        input.on('end', () => {
          // v5 closes stdin with a CLOSE frame; v4 has no such frame, the command sees EOF at the end.
          if (socket.protocol === 'v5.channel.k8s.io') socket.send(Buffer.from([CLOSE, STDIN]));
        });
        input.on('error', (error) => {
          socket.terminate();
          finish(error);
        });
      });
      socket.on('message', (data: Buffer) => {
        const channel = data[0];
        const body = data.subarray(1);
        if (channel === STDOUT) {
          if (options.onStdout) {
            const handler = options.onStdout;
            pending = pending.then(() => handler(body));
          } else stdout.push(Buffer.from(body));
        } else if (channel === STDERR) {
          if (stderr.length < 64 * 1024) stderr += body.toString('utf8');
        } else if (channel === ERROR && body.length > 0) {
          try {
            status = JSON.parse(body.toString('utf8')) as typeof status;
          } catch {
            status = { status: 'Failure', message: body.toString('utf8') };
          }
        }
      });
      socket.on('close', () => finish());
    });
  }
}

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { PayloadCodec } from '@temporalio/common';
import { AesGcmCodec } from '../codec/aes-gcm-codec';
import { CODEC_KEYS_VAR, CodecConfigError, codecKeysFromEnv } from '../codec/codec-keys';

export const CODEC_SERVER_VARS = {
  address: 'NOCOBASE_MAINTENANCE_CODEC_SERVER_ADDRESS',
  token: 'NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKEN',
  corsOrigins: 'NOCOBASE_MAINTENANCE_CODEC_SERVER_CORS_ORIGINS',
  tokenlessOrigins: 'NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKENLESS_ORIGINS',
  namespaces: 'NOCOBASE_MAINTENANCE_CODEC_SERVER_NAMESPACES',
} as const;

export interface CodecServerOptions {
  codec: PayloadCodec;
  host: string;
  port: number;
  /** The bearer token every request must carry (compared in constant time). */
  token: string;
  /** Browser origins (the Web UI's) answered with CORS headers. */
  corsOrigins: string[];
  /**
   * Browser origins served WITHOUT a token: only for a UI that cannot send one (the dev server's
   * UI has no login) and only on a loopback address, where anyone who could call the server could
   * read the stack's key files as well. Production: empty, and the UI sits behind its own login.
   */
  tokenlessOrigins: string[];
  /** When non-empty, the X-Namespace values served; others are refused. */
  namespaces: string[];
}

/** The codec server's settings from the environment; refuses to start on anything unclear. */
export function codecServerOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): CodecServerOptions {
  const keys = codecKeysFromEnv(env);
  if (!keys) throw new CodecConfigError(`${CODEC_KEYS_VAR} is not set: the codec server needs the keys the worker encrypts with`);
  const { host, port } = parseAddress(env[CODEC_SERVER_VARS.address] ?? '127.0.0.1:8081');
  const tokenlessOrigins = list(env[CODEC_SERVER_VARS.tokenlessOrigins]);
  if (tokenlessOrigins.length > 0 && !isLoopback(host)) {
    throw new CodecConfigError(`${CODEC_SERVER_VARS.tokenlessOrigins} is only allowed when the server listens on loopback (${CODEC_SERVER_VARS.address} is ${host}): put the UI behind a login instead`);
  }
  return {
    codec: new AesGcmCodec(keys),
    host,
    port,
    token: readToken(env),
    corsOrigins: [...new Set([...list(env[CODEC_SERVER_VARS.corsOrigins]), ...tokenlessOrigins])],
    tokenlessOrigins,
    namespaces: list(env[CODEC_SERVER_VARS.namespaces]),
  };
}

function readToken(env: NodeJS.ProcessEnv): string {
  const setting = env[CODEC_SERVER_VARS.token]?.trim();
  const name = CODEC_SERVER_VARS.token;
  if (!setting) throw new CodecConfigError(`${name} is not set: give the bearer token as file:<path> or env:<VAR>`);
  const match = /^(file|env):(.+)$/.exec(setting);
  if (!match) throw new CodecConfigError(`${name}: "${setting.slice(0, 5)}…" is not file:<path> or env:<VAR> (the token itself never goes in this setting)`);
  let token: string | undefined;
  if (match[1] === 'file') {
    try {
      token = readFileSync(match[2]!, 'utf8');
    } catch (error) {
      throw new CodecConfigError(`${name}: cannot read file ${match[2]}: ${(error as Error).message}`);
    }
  } else {
    token = env[match[2]!];
  }
  token = token?.trim();
  if (!token || token.length < 16) throw new CodecConfigError(`${name}: the token in ${match[2]} is missing or shorter than 16 characters`);
  return token;
}

function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CodecConfigError(`${CODEC_SERVER_VARS.address}: "${address}" is not <host>:<port>`);
  }
  return { host: match[1] ?? match[2]!, port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((entry) => entry.trim().replace(/\/+$/, '')).filter(Boolean);
}

import { readFileSync } from 'node:fs';

/**
 * The payload encryption keys, configured the same way for the worker, every client and the codec
 * server: `NOCOBASE_MAINTENANCE_CODEC_KEYS` is a comma list of `<id>=file:<path>` or
 * `<id>=env:<VAR>`; the file or variable holds a 32-byte key as 64 hex digits or as base64. The
 * first key encrypts; every key decrypts, so a rotation puts the new key first and keeps the old
 * ones until no history that needs them is retained. Only key *ids* ever reach a payload.
 */
export const CODEC_KEYS_VAR = 'NOCOBASE_MAINTENANCE_CODEC_KEYS';

export interface CodecKey {
  id: string;
  key: Buffer;
}

export class CodecConfigError extends Error {
  override name = 'CodecConfigError';
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The keys named in the environment, the encrypting one first; undefined when encryption is not configured. */
export function codecKeysFromEnv(env: NodeJS.ProcessEnv = process.env): CodecKey[] | undefined {
  const setting = env[CODEC_KEYS_VAR]?.trim();
  if (!setting) return undefined;
  const keys = setting.split(',').map((entry) => entry.trim()).filter(Boolean).map((entry) => parseEntry(entry, env));
  const seen = new Set<string>();
  for (const { id } of keys) {
    if (seen.has(id)) throw new CodecConfigError(`${CODEC_KEYS_VAR}: key id "${id}" appears twice; each id must name one key`);
    seen.add(id);
  }
  return keys;
}

function parseEntry(entry: string, env: NodeJS.ProcessEnv): CodecKey {
  const match = /^([^=]+)=(file|env):(.+)$/.exec(entry);
  if (!match) throw new CodecConfigError(`${CODEC_KEYS_VAR}: "${entry}" is not <id>=file:<path> or <id>=env:<VAR>`);
  const [, id, kind, source] = match as unknown as [string, string, 'file' | 'env', string];
  if (!KEY_ID.test(id)) throw new CodecConfigError(`${CODEC_KEYS_VAR}: key id "${id}" must be 1-64 letters, digits, '.', '_' or '-'`);
  const where = kind === 'file' ? `file ${source}` : `environment variable ${source}`;
  let text: string | undefined;
  if (kind === 'file') {
    try {
      text = readFileSync(source, 'utf8');
    } catch (error) {
      throw new CodecConfigError(`${CODEC_KEYS_VAR}: key "${id}": cannot read ${where}: ${(error as Error).message}`);
    }
  } else {
    text = env[source];
    if (text === undefined) throw new CodecConfigError(`${CODEC_KEYS_VAR}: key "${id}": ${where} is not set`);
  }
  return { id, key: parseKey(text.trim(), `${CODEC_KEYS_VAR}: key "${id}" (${where})`) };
}

/** 64 hex digits or base64 of exactly 32 bytes; anything else is refused rather than stretched. */
export function parseKey(text: string, what: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === 32) return key;
  }
  throw new CodecConfigError(`${what}: expected a 32-byte AES-256 key as 64 hex digits or base64 (e.g. \`openssl rand -hex 32\`)`);
}

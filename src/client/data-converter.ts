import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { AesGcmCodec } from '../codec/aes-gcm-codec';
import { codecKeysFromEnv } from '../codec/codec-keys';

/** The module that exports `failureConverter` (by path: the workflow bundle loads it too). */
export const FAILURE_CONVERTER_PATH = require.resolve('../codec/failure-converter');

/**
 * The data converter of the worker, every client and every replay: with
 * NOCOBASE_MAINTENANCE_CODEC_KEYS set, payloads (inputs, results, signals, updates, queries,
 * heartbeat details, memo) and failure messages and stack traces are encrypted
 * (src/codec/aes-gcm-codec.ts); unset, undefined, and everything stays plain JSON as before.
 * A bad key configuration throws here, at start, naming the setting.
 */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const keys = codecKeysFromEnv(env);
  if (!keys) return undefined;
  return { payloadCodecs: [new AesGcmCodec(keys)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/** For `bundleWorkflowCode`: the workflow sandbox encodes its own failures with the same converter. */
export function failureConverterPathFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return dataConverterFromEnv(env)?.failureConverterPath;
}

/** The codecs alone, for reading payloads straight out of a fetched history (src/codec/decode-history.ts). */
export function payloadCodecsFromEnv(env: NodeJS.ProcessEnv = process.env): PayloadCodec[] {
  return dataConverterFromEnv(env)?.payloadCodecs ?? [];
}

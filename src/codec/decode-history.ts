import type { PayloadCodec } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { isEncrypted } from './aes-gcm-codec';

type Payload = temporal.api.common.v1.IPayload;
type Failure = temporal.api.failure.v1.IFailure;

/**
 * Decodes, in place, every encrypted payload of a history (or any API message) with `codecs`, and
 * restores every failure's message and stack trace from its encoded attributes: what tests and
 * tools read when they look into payloads directly (the SDK decodes results and errors, but
 * `fetchHistory()` returns the stored bytes). In place, so protobufjs objects (event IDs as Long)
 * keep their types. Without codecs it only restores failure messages of plain histories.
 */
export async function decodeHistory<T>(history: T, codecs: PayloadCodec[] = []): Promise<T> {
  await visit(history, codecs);
  return history;
}

async function visit(value: unknown, codecs: PayloadCodec[]): Promise<void> {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  const record = value as Record<string, unknown>;
  for (const [key, child] of Object.entries(record)) {
    if (child !== null && typeof child === 'object' && isPayload(child) && isEncrypted(child)) record[key] = await decodePayload(child, codecs);
    else await visit(child, codecs);
  }
  if (isFailure(record)) restoreFailureMessage(record);
}

async function decodePayload(payload: Payload, codecs: PayloadCodec[]): Promise<Payload> {
  let decoded = [payload];
  for (const codec of [...codecs].reverse()) decoded = await codec.decode(decoded);
  return decoded[0]!;
}

function isPayload(value: object): value is Payload {
  const { metadata } = value as Payload;
  return typeof metadata === 'object' && metadata !== null && 'encoding' in metadata;
}

function isFailure(value: Record<string, unknown>): value is Failure & Record<string, unknown> {
  return 'encodedAttributes' in value && 'message' in value;
}

function restoreFailureMessage(failure: Failure): void {
  const attributes = failure.encodedAttributes;
  if (!attributes?.data || isEncrypted(attributes)) return;
  try {
    const { message, stack_trace } = JSON.parse(Buffer.from(attributes.data).toString('utf8')) as { message?: string; stack_trace?: string };
    if (typeof message === 'string') failure.message = message;
    if (typeof stack_trace === 'string') failure.stackTrace = stack_trace;
  } catch {
    // not the SDK's JSON attributes: leave the failure as stored
  }
}

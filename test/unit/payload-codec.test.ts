import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { decodeFailure, encodeErrorToFailure, loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dataConverterFromEnv } from '../../src/client/data-converter';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadDecryptionError } from '../../src/codec/aes-gcm-codec';
import { CodecConfigError, codecKeysFromEnv } from '../../src/codec/codec-keys';
import { decodeHistory } from '../../src/codec/decode-history';

const SECRET = { cluster: 'prod-eu', image: 'registry.example/nocobase:2.2.15', password: 'hunter2' };
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const key = (id: string) => ({ id, key: randomBytes(32) });

function plain(value: unknown): Payload {
  return defaultPayloadConverter.toPayload(value);
}

describe('the AES-256-GCM payload codec', () => {
  it('encrypts a payload so neither its data nor its JSON encoding shows, names the key, and decrypts it back', async () => {
    const codec = new AesGcmCodec([key('k1')]);
    const [encrypted] = await codec.encode([plain(SECRET)]);
    assert.equal(text(encrypted!.metadata?.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(encrypted!.metadata?.[KEY_ID_METADATA]), 'k1');
    const stored = Buffer.concat([encrypted!.data!, ...Object.values(encrypted!.metadata ?? {})]).toString('latin1');
    for (const needle of ['prod-eu', 'nocobase:2.2.15', 'hunter2', 'json/plain']) assert.ok(!stored.includes(needle), `"${needle}" readable in the encrypted payload`);
    const [decoded] = await codec.decode([encrypted!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), SECRET);
    assert.equal(text(decoded!.metadata?.encoding), 'json/plain');
  });

  it('uses a fresh IV: the same payload encrypts differently each time', async () => {
    const codec = new AesGcmCodec([key('k1')]);
    const [a, b] = await codec.encode([plain(SECRET), plain(SECRET)]);
    assert.notDeepEqual(Buffer.from(a!.data!), Buffer.from(b!.data!));
  });

  it('refuses a tampered ciphertext, and a payload relabelled with another key id', async () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const codec = new AesGcmCodec([k1, k2]);
    const [encrypted] = await codec.encode([plain(SECRET)]);
    const flipped = Buffer.from(encrypted!.data!);
    flipped[20]! ^= 0x01;
    await assert.rejects(codec.decode([{ ...encrypted!, data: flipped }]), (error: Error) => error instanceof PayloadDecryptionError && /"k1" failed authentication/.test(error.message));
    const relabelled = { ...encrypted!, metadata: { ...encrypted!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await assert.rejects(codec.decode([relabelled]), /"k2" failed authentication/);
  });

  it('after a rotation encrypts with the new key and still decrypts what the old key encrypted', async () => {
    const old = key('2025-01');
    const [before] = await new AesGcmCodec([old]).encode([plain(SECRET)]);
    const rotated = new AesGcmCodec([key('2026-01'), old]);
    const [after] = await rotated.encode([plain(SECRET)]);
    assert.equal(text(after!.metadata?.[KEY_ID_METADATA]), '2026-01');
    const decoded = await rotated.decode([before!, after!]);
    assert.deepEqual(decoded.map((payload) => defaultPayloadConverter.fromPayload(payload)), [SECRET, SECRET]);
  });

  it('names an unknown key id, and the keys it has, when it cannot decrypt', async () => {
    const [encrypted] = await new AesGcmCodec([key('retired')]).encode([plain(SECRET)]);
    await assert.rejects(new AesGcmCodec([key('current')]).decode([encrypted!]), (error: Error) =>
      error instanceof PayloadDecryptionError && error.message.includes('key id "retired"') && error.message.includes('(current)') && error.message.includes('NOCOBASE_MAINTENANCE_CODEC_KEYS'));
  });

  it('passes a plain payload through unchanged, so histories written before encryption still decode and replay', async () => {
    const payload = plain(SECRET);
    const [decoded] = await new AesGcmCodec([key('k1')]).decode([payload]);
    assert.equal(decoded, payload);
  });
});

describe('the codec configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'codec-keys-'));
  const hexKey = randomBytes(32).toString('hex');
  const base64Key = randomBytes(32).toString('base64');
  writeFileSync(join(dir, 'new.key'), `${hexKey}\n`, { mode: 0o600 });

  it('reads keys from files (hex) and environment variables (base64), the first one encrypting', () => {
    const keys = codecKeysFromEnv({ NOCOBASE_MAINTENANCE_CODEC_KEYS: `new=file:${join(dir, 'new.key')}, old=env:OLD_KEY`, OLD_KEY: base64Key });
    assert.deepEqual(keys?.map(({ id, key }) => [id, key.toString('hex')]), [['new', hexKey], ['old', Buffer.from(base64Key, 'base64').toString('hex')]]);
  });

  it('is off when unset: no converter, payloads stay plain JSON', () => {
    assert.equal(dataConverterFromEnv({}), undefined);
    assert.equal(dataConverterFromEnv({ NOCOBASE_MAINTENANCE_CODEC_KEYS: ' ' }), undefined);
  });

  it('refuses unclear settings with the setting and the key named', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ NOCOBASE_MAINTENANCE_CODEC_KEYS: 'k1' }, /"k1" is not <id>=file:<path> or <id>=env:<VAR>/],
      [{ NOCOBASE_MAINTENANCE_CODEC_KEYS: 'k1=env:MISSING' }, /key "k1": environment variable MISSING is not set/],
      [{ NOCOBASE_MAINTENANCE_CODEC_KEYS: `k1=file:${join(dir, 'absent.key')}` }, /key "k1": cannot read file .*absent\.key/],
      [{ NOCOBASE_MAINTENANCE_CODEC_KEYS: 'k1=env:SHORT', SHORT: 'abcd' }, /key "k1" \(environment variable SHORT\): expected a 32-byte AES-256 key/],
      [{ NOCOBASE_MAINTENANCE_CODEC_KEYS: 'k1=env:A,k1=env:A', A: hexKey }, /key id "k1" appears twice/],
    ];
    for (const [env, message] of cases) assert.throws(() => dataConverterFromEnv(env), (error: Error) => error instanceof CodecConfigError && message.test(error.message), JSON.stringify(env));
  });

  it('encrypts failure messages and stack traces too, and restores them on decode', async () => {
    const converter = dataConverterFromEnv({ NOCOBASE_MAINTENANCE_CODEC_KEYS: 'k1=env:A', A: hexKey })!;
    const loaded = loadDataConverter(converter);
    // What the worker stores for a failed activity or workflow: converted, then encoded by the codec.
    const failure = await encodeErrorToFailure(loaded, ApplicationFailure.nonRetryable('cluster prod-eu is not stopped', 'ClusterNotStopped'));
    assert.ok(!JSON.stringify(failure).includes('prod-eu'), 'failure message readable');
    assert.equal(failure.applicationFailureInfo?.type, 'ClusterNotStopped', 'the failure type stays readable (it is not user data)');
    const decoded = await decodeFailure(loaded.payloadCodecs, failure);
    assert.equal(loaded.failureConverter.failureToError(decoded, loaded.payloadConverter).message, 'cluster prod-eu is not stopped');
    const history = await decodeHistory({ events: [{ failure }] }, loaded.payloadCodecs);
    assert.equal(history.events[0]!.failure.message, 'cluster prod-eu is not stopped');
  });
});

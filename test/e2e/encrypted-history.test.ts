import { WorkflowFailedError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { NativeConnection, Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { connectClient, temporalEndpoint } from '../../src/client/connect';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../src/codec/aes-gcm-codec';
import { codecKeysFromEnv } from '../../src/codec/codec-keys';
import { FailureType } from '../../src/common/failure-types';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { createWorker } from '../../src/worker/create-worker';
import { versionUpgrade } from '../../src/workflows';
import { stackDeps } from '../support/stack';
import { temporalBinary } from '../support/temporal-binary';
import { workflowBundle } from '../support/workflow-bundle';

// A real procedure through the stack's Temporal server with the stack's codec (the keys in
// .stack/env): an upgrade of a cluster this worker does not know, refused at preflight, so no
// cluster is touched and the file needs no lane of its own. The raw history then holds no
// plaintext of the input, the activity results or the failure message; the codec server and the
// CLI with the codec endpoint read it all back.

type Payload = temporal.api.common.v1.IPayload;
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

function codecEnv(): { endpoint: string; auth: string; keyId: string } {
  const keys = codecKeysFromEnv();
  const { TEMPORAL_CODEC_ENDPOINT: endpoint, TEMPORAL_CODEC_AUTH: auth } = process.env;
  if (!keys || !endpoint || !auth) {
    throw new Error('the stack\'s codec is not in the environment (NOCOBASE_MAINTENANCE_CODEC_KEYS, TEMPORAL_CODEC_ENDPOINT, TEMPORAL_CODEC_AUTH): `npm run stack:up && source .stack/env`');
  }
  return { endpoint, auth, keyId: keys[0]!.id };
}

/** Every payload of a message, with where it sits; search attributes (plain by design: they are indexed) apart. */
function payloadsOf(value: unknown, path = ''): { path: string; payload: Payload }[] {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return [];
  const { metadata } = value as Payload;
  if (metadata && typeof metadata === 'object' && 'encoding' in metadata) return [{ path, payload: value as Payload }];
  return Object.entries(value).flatMap(([key, child]) => (key === 'searchAttributes' ? [] : payloadsOf(child, `${path}.${key}`)));
}

function failureTexts(value: unknown): string[] {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return [];
  const own = 'encodedAttributes' in value ? [String((value as { message?: string }).message ?? ''), String((value as { stackTrace?: string }).stackTrace ?? '')] : [];
  return [...own, ...Object.values(value).flatMap(failureTexts)];
}

describe('payloads encrypted end to end on the real Temporal server', () => {
  const id = randomUUID().slice(0, 8);
  const cluster = `enc-${id}`;
  const workflowId = procedureWorkflowId(cluster);
  const image = `registry.invalid/secret-image-${id}:9.9.9`;
  const taskQueue = `encrypted-history-${id}`;
  let client: Client;
  let worker: Worker;
  let connection: NativeConnection;
  let running: Promise<void>;

  before(async () => {
    codecEnv();
    client = await connectClient();
    ({ worker, connection } = await createWorker({ endpoint: temporalEndpoint(), deps: stackDeps(), taskQueue, workflowBundle: await workflowBundle() }));
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await connection?.close();
    await client?.connection.close();
  });

  it('stores input, activity results and failure messages encrypted, readable again through the codec server and the CLI', { timeout: 120_000 }, async () => {
    const { endpoint, auth, keyId } = codecEnv();
    const handle = await client.workflow.start(versionUpgrade, { taskQueue, workflowId, args: [{ cluster, image }] });
    const error = await handle.result().then(() => undefined, (caught: unknown) => caught);
    // The SDK client, with the same converter, reads the failure as it was thrown.
    assert.ok(error instanceof WorkflowFailedError, String(error));
    const cause = error.cause as { type?: string; message: string } | undefined;
    assert.equal(cause?.type, FailureType.UnknownCluster);
    assert.match(cause?.message ?? '', new RegExp(`unknown cluster "${cluster}"`));

    // The raw history, as the server stores it.
    const { history } = await client.workflowService.getWorkflowExecutionHistory({ namespace: temporalEndpoint().namespace, execution: { workflowId, runId: handle.firstExecutionRunId } });
    const stored = payloadsOf(history);
    assert.ok(stored.some(({ path }) => path.includes('workflowExecutionStartedEventAttributes.input')), 'the input is a payload of the history');
    assert.ok(stored.some(({ path }) => path.includes('encodedAttributes')), 'the failure message is a payload of the history');
    for (const { path, payload } of stored) {
      // Written by the worker's core below the codec: patched() markers (the SDK's own patch IDs)
      // and a local activity's bookkeeping (sequence, attempt, activity type, times; its input is
      // not recorded and its result is encrypted like any other). None of it names the cluster.
      if (!path.includes('markerRecordedEventAttributes.details.patch-data') && !path.includes('markerRecordedEventAttributes.details.data')) {
        assert.equal(text(payload.metadata?.encoding), ENCRYPTED_ENCODING, `${path} is stored unencrypted`);
        assert.equal(text(payload.metadata?.[KEY_ID_METADATA]), keyId, path);
      }
      const bytes = Buffer.concat([Buffer.from(payload.data ?? []), ...Object.values(payload.metadata ?? {}).map((value) => Buffer.from(value))]).toString('latin1');
      for (const plaintext of [cluster, image, 'unknown cluster']) assert.ok(!bytes.includes(plaintext), `${path} shows "${plaintext}"`);
    }
    const messages = failureTexts(history);
    assert.ok(messages.length > 0);
    for (const message of messages) assert.ok(!message.includes('unknown cluster') && !message.includes(cluster), `a failure message is readable: ${message}`);
    const raw = Buffer.from(temporal.api.history.v1.History.encode(history!).finish()).toString('latin1');
    assert.ok(!raw.includes(image), 'the image is nowhere in the stored history');
    assert.ok(!raw.includes('unknown cluster'), 'the failure message is nowhere in the stored history');

    // Through the codec server, with the token: the same payloads in clear.
    const response = await fetch(`${endpoint}/decode`, {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/json', 'X-Namespace': temporalEndpoint().namespace },
      body: JSON.stringify({ payloads: stored.map(({ payload }) => ({ metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')])), data: Buffer.from(payload.data ?? []).toString('base64') })) }),
    });
    assert.equal(response.status, 200);
    const decoded = ((await response.json()) as { payloads: { data: string }[] }).payloads.map((payload) => Buffer.from(payload.data, 'base64').toString('utf8')).join('\n');
    assert.ok(!decoded.includes(ENCRYPTED_ENCODING));
    assert.ok(decoded.includes(image), 'the input decodes');
    assert.ok(decoded.includes(`unknown cluster \\"${cluster}\\"`), 'the failure message decodes');
    const refused = await fetch(`${endpoint}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ payloads: [] }) });
    assert.equal(refused.status, 401);

    // The CLI: with the codec endpoint (TEMPORAL_CODEC_ENDPOINT/_AUTH, as .stack/env sets them) readable, without it not.
    // `show --output json` prints payloads as stored (base64): the text is what their data decodes to.
    const show = async (env: NodeJS.ProcessEnv) => {
      const { stdout } = await promisify(execFile)(temporalBinary(), ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json'], { env, maxBuffer: 16 * 1024 * 1024 });
      return [...stdout.matchAll(/"data":\s*"([A-Za-z0-9+/=]*)"/g)].map((match) => Buffer.from(match[1]!, 'base64').toString('utf8')).join('\n');
    };
    const withCodec = await show(process.env);
    assert.ok(withCodec.includes(image), 'the CLI with the codec endpoint shows the input');
    assert.ok(withCodec.includes(`unknown cluster \\"${cluster}\\"`), 'and the failure message');
    const withoutCodec = await show({ ...process.env, TEMPORAL_CODEC_ENDPOINT: undefined, TEMPORAL_CODEC_AUTH: undefined });
    assert.ok(withoutCodec.length > 0 && !withoutCodec.includes(image) && !withoutCodec.includes('unknown cluster'), 'the CLI without the codec shows only ciphertext');
  });
});

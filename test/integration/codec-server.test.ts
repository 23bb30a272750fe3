import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { codecServerOptionsFromEnv } from '../../src/codec-server/config';
import { createCodecServer } from '../../src/codec-server/server';

// The codec server over real HTTP, as the Web UI (CORS, from its origin) and the `temporal` CLI
// (`--codec-endpoint`, `--codec-auth`) call it.

const UI_ORIGIN = 'http://127.0.0.1:8233';
const TOKEN = randomBytes(24).toString('hex');
const SECRET = '{"cluster":"prod-eu","image":"registry.example/nocobase:2.2.15"}';
const b64 = (value: string) => Buffer.from(value, 'utf8').toString('base64');
const plainPayload = { metadata: { encoding: b64('json/plain') }, data: b64(SECRET) };

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

describe('the codec server', () => {
  let server: Server;
  let url: string;

  before(async () => {
    server = createCodecServer(codecServerOptionsFromEnv({
      NOCOBASE_MAINTENANCE_CODEC_KEYS: 'k2=env:K2,k1=env:K1',
      K1: randomBytes(32).toString('hex'),
      K2: randomBytes(32).toString('base64'),
      NOCOBASE_MAINTENANCE_CODEC_SERVER_ADDRESS: '127.0.0.1:0',
      NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKEN: 'env:CODEC_TOKEN',
      CODEC_TOKEN: TOKEN,
      NOCOBASE_MAINTENANCE_CODEC_SERVER_CORS_ORIGINS: UI_ORIGIN,
    }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` }) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers }, body: JSON.stringify(body) });

  it('encodes with the first key, then decodes back to the same payload (/encode, /decode round trip)', async () => {
    const encoded = await post('/encode', { payloads: [plainPayload] });
    assert.equal(encoded.status, 200);
    const { payloads: [encrypted] } = (await encoded.json()) as { payloads: JsonPayload[] };
    assert.equal(Buffer.from(encrypted!.metadata.encoding!, 'base64').toString(), 'binary/encrypted');
    assert.equal(Buffer.from(encrypted!.metadata['encryption-key-id']!, 'base64').toString(), 'k2');
    assert.ok(!Buffer.from(encrypted!.data, 'base64').toString('latin1').includes('prod-eu'));

    const decoded = await post('/decode', { payloads: [encrypted, plainPayload] });
    assert.equal(decoded.status, 200);
    assert.deepEqual(((await decoded.json()) as { payloads: JsonPayload[] }).payloads, [plainPayload, plainPayload]);
  });

  it('takes an empty list written the protobuf-JSON way (no "payloads" key), as the CLI sends for a query without arguments', async () => {
    for (const path of ['/encode', '/decode']) {
      const response = await post(path, {});
      assert.equal(response.status, 200, path);
      assert.deepEqual(await response.json(), { payloads: [] });
    }
    assert.equal((await post('/decode', { payloads: 'not a list' })).status, 400);
  });

  it('answers the UI\'s CORS preflight for its origin, with the headers the UI sends allowed', async () => {
    const response = await fetch(`${url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: UI_ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type,x-namespace' },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), UI_ORIGIN);
    assert.match(response.headers.get('access-control-allow-methods') ?? '', /POST/);
    const allowed = (response.headers.get('access-control-allow-headers') ?? '').split(',').map((name) => name.trim().toLowerCase());
    for (const name of ['authorization', 'content-type', 'x-namespace']) assert.ok(allowed.includes(name), `${name} not allowed: ${allowed.join(', ')}`);

    const other = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('refuses a wrong token with 401 and no payload data', async () => {
    const encrypted = ((await (await post('/encode', { payloads: [plainPayload] })).json()) as { payloads: JsonPayload[] }).payloads;
    for (const path of ['/decode', '/encode']) {
      const response = await post(path, { payloads: path === '/decode' ? encrypted : [plainPayload] }, { Authorization: `Bearer ${TOKEN.slice(0, -1)}x`, Origin: UI_ORIGIN });
      assert.equal(response.status, 401, path);
      const body = await response.text();
      assert.ok(!body.includes('payloads') && !body.includes(b64(SECRET)) && !body.includes(encrypted[0]!.data), `${path} answered with data: ${body}`);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  });

  it('refuses a request without a token, or with another scheme, with 401', async () => {
    for (const headers of [{}, { Authorization: TOKEN }, { Authorization: `Basic ${b64(`user:${TOKEN}`)}` }] as Record<string, string>[]) {
      const response = await post('/decode', { payloads: [plainPayload] }, headers);
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.ok(!(await response.text()).includes(plainPayload.data));
    }
  });

  it('serves browsers of a token-less origin only on loopback, and refuses to start that way elsewhere', async () => {
    const base = { NOCOBASE_MAINTENANCE_CODEC_KEYS: 'k1=env:K1', K1: randomBytes(32).toString('hex'), NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKEN: 'env:T', T: TOKEN, NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKENLESS_ORIGINS: UI_ORIGIN };
    assert.throws(() => codecServerOptionsFromEnv({ ...base, NOCOBASE_MAINTENANCE_CODEC_SERVER_ADDRESS: '0.0.0.0:8081' }), /only allowed when the server listens on loopback/);
    const local = createCodecServer(codecServerOptionsFromEnv({ ...base, NOCOBASE_MAINTENANCE_CODEC_SERVER_ADDRESS: '127.0.0.1:0' }));
    local.listen(0, '127.0.0.1');
    await once(local, 'listening');
    try {
      const localUrl = `http://127.0.0.1:${(local.address() as AddressInfo).port}`;
      const fromUi = await fetch(`${localUrl}/encode`, { method: 'POST', headers: { Origin: UI_ORIGIN, 'Content-Type': 'application/json' }, body: JSON.stringify({ payloads: [plainPayload] }) });
      assert.equal(fromUi.status, 200);
      assert.equal(fromUi.headers.get('access-control-allow-origin'), UI_ORIGIN);
      const noOrigin = await fetch(`${localUrl}/encode`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ payloads: [plainPayload] }) });
      assert.equal(noOrigin.status, 401);
    } finally {
      local.closeAllConnections();
      local.close();
    }
  });

  it('refuses to start without a token, or with the token itself in the setting', () => {
    const base = { NOCOBASE_MAINTENANCE_CODEC_KEYS: 'k1=env:K1', K1: randomBytes(32).toString('hex') };
    assert.throws(() => codecServerOptionsFromEnv(base), /NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKEN is not set/);
    assert.throws(() => codecServerOptionsFromEnv({ ...base, NOCOBASE_MAINTENANCE_CODEC_SERVER_TOKEN: TOKEN }), /is not file:<path> or env:<VAR>/);
  });
});

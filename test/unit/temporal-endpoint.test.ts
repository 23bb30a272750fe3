import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeEndpoint, TemporalConnectionConfigError, temporalEndpoint } from '../../src/client/connect';

describe('the Temporal endpoint, read as the temporal CLI reads it', () => {
  let dir = '';
  const files = { cert: '', key: '', otherKey: '', ca: '', profile: '' };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'endpoint-'));
    files.cert = join(dir, 'cert.pem');
    files.key = join(dir, 'key.pem');
    files.otherKey = join(dir, 'other-key.pem');
    files.ca = join(dir, 'ca.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=client', '-keyout', files.key, '-out', files.cert], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-out', files.otherKey], { stdio: 'ignore' });
    writeFileSync(files.ca, execFileSync('cat', [files.cert]));
    files.profile = join(dir, 'temporal.toml');
    writeFileSync(files.profile, [
      '[profile.default]', 'address = "127.0.0.1:7233"', '',
      '[profile.prod]', 'address = "temporal.example.com:7233"', 'namespace = "ops"',
      '[profile.prod.tls]', `client_cert_path = "${files.cert}"`, `client_key_path = "${files.key}"`, `server_ca_cert_path = "${files.ca}"`, 'server_name = "temporal.example.com"',
      '', '[profile.cloud]', 'address = "ops.abcde.tmprl.cloud:7233"', 'namespace = "ops.abcde"', 'api_key = "not-a-real-key"',
    ].join('\n'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to the local dev server in plaintext', () => {
    const endpoint = temporalEndpoint({ HOME: dir });
    assert.deepEqual(endpoint, { address: '127.0.0.1:7233', namespace: 'default' });
    assert.equal(describeEndpoint(endpoint), '127.0.0.1:7233 (namespace default, plaintext)');
  });

  it('takes mTLS from the environment: the certificate pair, the server CA and the server name', () => {
    const endpoint = temporalEndpoint({
      HOME: dir, TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'ops',
      TEMPORAL_TLS_CLIENT_CERT_PATH: files.cert, TEMPORAL_TLS_CLIENT_KEY_PATH: files.key, TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca, TEMPORAL_TLS_SERVER_NAME: 'temporal',
    });
    assert.equal(endpoint.address, 'temporal:7233');
    assert.equal(endpoint.tls?.serverNameOverride, 'temporal');
    assert.ok(endpoint.tls?.clientCertPair?.crt.toString().includes('BEGIN CERTIFICATE'));
    assert.ok(endpoint.tls?.serverRootCACertificate);
    assert.equal(describeEndpoint(endpoint), 'temporal:7233 (namespace ops, mTLS)');
  });

  it("takes a profile of the CLI's file (TEMPORAL_PROFILE), with the environment on top", () => {
    const prod = temporalEndpoint({ HOME: dir, TEMPORAL_CONFIG_FILE: files.profile, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'ops-eu' });
    assert.equal(prod.address, 'temporal.example.com:7233');
    assert.equal(prod.namespace, 'ops-eu');
    assert.equal(prod.tls?.serverNameOverride, 'temporal.example.com');
    const cloud = temporalEndpoint({ HOME: dir, TEMPORAL_CONFIG_FILE: files.profile, TEMPORAL_PROFILE: 'cloud' });
    assert.equal(cloud.apiKey, 'not-a-real-key');
    assert.deepEqual(cloud.tls, {}, 'an API key turns TLS on, as in the CLI');
    assert.equal(describeEndpoint(cloud), 'ops.abcde.tmprl.cloud:7233 (namespace ops.abcde, TLS + API key)');
    assert.ok(!describeEndpoint(cloud).includes('not-a-real-key'));
  });

  it('names the setting that cannot work, before any connection is tried', () => {
    const refusals: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'missing.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: files.key }, /TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read .*missing\.pem/],
      [{ TEMPORAL_TLS_CLIENT_CERT_PATH: files.cert }, /TEMPORAL_TLS_CLIENT_CERT_PATH is set but no client key: set TEMPORAL_TLS_CLIENT_KEY_PATH/],
      [{ TEMPORAL_TLS_CLIENT_CERT_PATH: files.cert, TEMPORAL_TLS_CLIENT_KEY_PATH: files.otherKey }, /TEMPORAL_TLS_CLIENT_KEY_PATH does not belong to the certificate of TEMPORAL_TLS_CLIENT_CERT_PATH/],
      [{ TEMPORAL_TLS_CLIENT_CERT_PATH: files.key, TEMPORAL_TLS_CLIENT_KEY_PATH: files.key }, /TEMPORAL_TLS_CLIENT_CERT_PATH: not a PEM certificate/],
      [{ TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.profile }, /TEMPORAL_TLS_SERVER_CA_CERT_PATH: not a PEM certificate/],
      [{ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }, /TEMPORAL_TLS=false with an API key/],
      [{ TEMPORAL_CONFIG_FILE: files.profile, TEMPORAL_PROFILE: 'staging' }, /profile cannot be read: Profile 'staging' not found/],
    ];
    for (const [env, message] of refusals) {
      assert.throws(() => temporalEndpoint({ HOME: dir, ...env }), (error: unknown) => error instanceof TemporalConnectionConfigError && message.test(error.message), JSON.stringify(env));
    }
    // A profile's own key is named when the environment did not set it.
    writeFileSync(join(dir, 'bad.toml'), `[profile.default.tls]\nclient_cert_path = "${join(dir, 'gone.pem')}"\nclient_key_path = "${files.key}"\n`);
    assert.throws(() => temporalEndpoint({ HOME: dir, TEMPORAL_CONFIG_FILE: join(dir, 'bad.toml') }), /tls\.client_cert_path of profile "default" in .*bad\.toml: cannot read/);
  });
});

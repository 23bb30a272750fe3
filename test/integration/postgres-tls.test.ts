import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createActivities } from '../../src/activities';
import { runActivity, stackConfig, stackDeps } from '../support/stack';

const run = promisify(execFile);

/**
 * A cluster whose database login says `ssl: true`: the worker's own connections and pg_dump verify
 * the server's certificate the same way (the stack's PostgreSQL offers TLS with a certificate of the
 * stack CA), and both refuse a server whose certificate the configured CA did not sign.
 */
describe('PostgreSQL over TLS: the pool and pg_dump verify the server alike', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-tls-'));
  const label = `tls${process.pid}x${Date.now().toString(36)}`;
  after(() => rmSync(dir, { recursive: true, force: true }));

  const depsWith = (sslRootCert: string) =>
    stackDeps(stackConfig((standin) => {
      standin.database.ssl = true;
      standin.database.sslRootCert = sslRootCert;
      standin.backup.store = { kind: 'directory', path: dir };
    }));

  it('connects with TLS and dumps the database when the server chains to the configured CA', { timeout: 120_000 }, async () => {
    const caFile = process.env.STACK_CA_CERT;
    assert.ok(caFile, 'the stack exports STACK_CA_CERT');
    const deps = depsWith(caFile);
    try {
      const { rows } = await deps.database('standin').query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      assert.equal(rows[0]?.ssl, true, 'the pool speaks TLS');
      const backup = await runActivity(createActivities(deps).backupDatabase, { cluster: 'standin', label });
      assert.equal(backup.method, 'pg_dump');
      assert.ok(backup.sizeBytes > 0);
    } finally {
      await deps.close();
    }
  });

  it('refuses a server whose certificate another CA signed: the pool and pg_dump, before any data moves', { timeout: 120_000 }, async () => {
    const stranger = join(dir, 'stranger-ca.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=stranger CA', '-keyout', join(dir, 'stranger-key.pem'), '-out', stranger]);
    const deps = depsWith(stranger);
    try {
      const pool = await deps.database('standin').query('SELECT 1').then(() => undefined, (error: unknown) => error as Error);
      assert.ok(pool, 'the pool refused the server');
      assert.match(pool.message, /certificate/i);
      const dump = await runActivity(createActivities(deps).backupDatabase, { cluster: 'standin', label: `${label}-stranger` }).then(() => undefined, (error: unknown) => error as Error);
      assert.ok(dump, 'the backup refused the server');
      assert.match(`${dump.message} ${String((dump as { cause?: unknown }).cause ?? '')}`, /certificate|SSL|connect/i);
    } finally {
      await deps.close();
    }
  });
});

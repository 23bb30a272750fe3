import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Pool } from 'pg';
import { parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/config/config-error';
import { checkPgDump, pgDumpMajor, serverMajor } from '../../src/worker/pg-dump-check';

// The programs are small scripts that print what a pg_dump of that version prints; the server is a
// stand-in answering SHOW server_version_num (this is a unit test: no PostgreSQL here).
const dir = mkdtempSync(join(tmpdir(), 'pg-dump-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pgBin(name: string, version: string): string {
  const bin = join(dir, name);
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'pg_dump'), `#!/bin/sh\necho 'pg_dump (PostgreSQL) ${version} (Debian ${version}-1)'\n`);
  chmodSync(join(bin, 'pg_dump'), 0o755);
  return bin;
}

function config(bin: string | undefined, method = 'pg_dump') {
  return parseConfig(`clusters:
  c1:
    nodes: [{ name: n1, dockerHost: "unix:///var/run/docker.sock", container: c1, healthUrl: "http://n1/" }]
    database: { host: db.example, database: app, user: app, passwordEnv: PW }
    loadBalancer: { runtimeApi: "unix:///run/haproxy.sock", backend: b, maintenanceMap: /m.map, url: "http://lb/" }
    backup: { method: ${method}, directory: /backups${bin ? `, pgBin: ${bin}` : ''} }
`, 'test.yaml');
}

const server = (num: number | Error) => () => ({ query: () => (num instanceof Error ? Promise.reject(num) : Promise.resolve({ rows: [{ server_version_num: String(num) }] })) }) as unknown as Pool;

describe('the worker checks at start that pg_dump can dump the database server', () => {
  it('reads the majors from pg_dump --version and server_version_num', () => {
    assert.equal(pgDumpMajor('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n'), 15);
    assert.equal(pgDumpMajor('pg_dump (PostgreSQL) 17beta1'), 17);
    assert.equal(pgDumpMajor('something else'), undefined);
    assert.equal(serverMajor(150018), 15);
    assert.equal(serverMajor(160004), 16);
  });

  it('accepts a pg_dump of the same or a newer major', async () => {
    assert.deepEqual(await checkPgDump(config(pgBin('v15', '15.18')), server(150004)), []);
    assert.deepEqual(await checkPgDump(config(pgBin('v17', '17.2')), server(160004)), []);
  });

  it('refuses an older pg_dump, naming the cluster, the server and what to install', async () => {
    await assert.rejects(checkPgDump(config(pgBin('v15b', '15.18')), server(160004)), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /cluster c1: .*pg_dump is pg_dump \(PostgreSQL\) 15\.18.*older than the database server at db\.example:5432 \(PostgreSQL 16\).*postgresql-client-16/);
      return true;
    });
  });

  it('refuses a pg_dump that does not run, and says where it looked', async () => {
    await assert.rejects(checkPgDump(config(join(dir, 'missing')), server(150004)), /cluster c1: backup.method is pg_dump, but .*missing\/pg_dump does not run \(ENOENT\)/);
  });

  it('only warns when the server cannot be reached now, and skips clusters backed up by clone', async () => {
    const [warning] = await checkPgDump(config(pgBin('v15c', '15.18')), server(new Error('connect ECONNREFUSED')));
    assert.match(warning ?? '', /cluster c1: the database server at db\.example:5432 cannot be reached now \(connect ECONNREFUSED\)/);
    assert.deepEqual(await checkPgDump(config(join(dir, 'missing'), 'clone'), server(150004)), []);
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { clientSsl, libpqSslEnv } from '../../src/adapters/postgres/login';

/**
 * With `database.ssl`, the worker's pool (node-postgres, Node's TLS) and pg_dump/pg_restore
 * (libpq, OpenSSL) must trust the same CAs: otherwise the pre-flight's connection succeeds and
 * the backup, or worse the restore behind the maintenance page, is the first to refuse the server.
 */
describe('one trust source for the worker\'s connections and pg_dump', () => {
  const caOfPool = (login: { ssl: boolean; sslRootCert?: string }): string | undefined => {
    const options = clientSsl(login);
    assert.ok(options, 'ssl is on');
    return options.ca === undefined ? undefined : String(options.ca);
  };
  const caOfLibpq = (login: { ssl: boolean; sslRootCert?: string }): string => {
    const env = libpqSslEnv(login);
    assert.equal(env.PGSSLMODE, 'verify-full', 'libpq checks the chain and the host name, as Node does');
    assert.ok(env.PGSSLROOTCERT, 'libpq is told which CAs to trust');
    return readFileSync(env.PGSSLROOTCERT, 'utf8');
  };

  it('without sslRootCert, the pool trusts exactly the CA file pg_dump is given, not Node\'s own bundle', () => {
    const login = { ssl: true };
    assert.equal(caOfPool(login), caOfLibpq(login));
  });

  it('with sslRootCert, both trust that file and nothing else', () => {
    const login = { ssl: true, sslRootCert: libpqSslEnv({ ssl: true }).PGSSLROOTCERT ?? '' };
    assert.equal(caOfPool(login), readFileSync(login.sslRootCert, 'utf8'));
    assert.equal(caOfLibpq(login), readFileSync(login.sslRootCert, 'utf8'));
  });

  it('without ssl, neither speaks TLS on its own initiative beyond libpq\'s default', () => {
    assert.equal(clientSsl({ ssl: false }), false);
    assert.equal(libpqSslEnv({ ssl: false }).PGSSLROOTCERT, undefined);
  });
});

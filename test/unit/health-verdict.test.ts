import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { healthVerdict } from '../../src/adapters/nocobase/http-probes';

describe('healthVerdict: how a NocoBase health answer is read while waiting for a node', () => {
  it('takes 200 as ready and APP_ERROR as failed at once', () => {
    assert.equal(healthVerdict({ ok: true, code: 'ok', status: 200 }), 'ready');
    assert.equal(healthVerdict({ ok: false, code: 'APP_ERROR', status: 503, message: 'migration failed' }), 'failed');
  });

  it('waits on the progress codes of install, upgrade and start, however long they last', () => {
    for (const code of ['APP_PREPARING', 'APP_STARTING', 'APP_INITIALIZING', 'APP_INITIALIZED', 'APP_COMMANDING', 'COMMAND_END']) {
      assert.equal(healthVerdict({ ok: false, code, status: 503 }), 'waiting', code);
    }
  });

  it('suspects any other 503 (a PostgreSQL code, APP_STOPPED), which the caller fails after its grace', () => {
    for (const code of ['28P01', 'ECONNREFUSED', 'APP_STOPPED', 'COMMAND_ERROR']) {
      assert.equal(healthVerdict({ ok: false, code, status: 503 }), 'suspect', code);
    }
  });

  it('keeps waiting when nothing answers HTTP or a proxy answers something else', () => {
    assert.equal(healthVerdict({ ok: false, code: 'ECONNREFUSED' }), 'waiting');
    assert.equal(healthVerdict({ ok: false, code: 'HTTP 502', status: 502 }), 'waiting');
    // Real NocoBase 2.2.15 answers this for a moment while its app registers during an install.
    assert.equal(healthVerdict({ ok: false, code: 'APP_NOT_FOUND', status: 404 }), 'waiting');
  });
});

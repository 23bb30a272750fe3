import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloneStrategy, FILE_COPY_FROM_BYTES } from '../../src/activities/backup/clone-method';
import { restoreJobs } from '../../src/activities/backup/dump-method';

describe('how a backup is taken and restored quickly', () => {
  it('clones a large database by copying its files on PostgreSQL 15 and later, and a small one through the WAL', () => {
    assert.equal(cloneStrategy(150004, FILE_COPY_FROM_BYTES), ' STRATEGY FILE_COPY');
    assert.equal(cloneStrategy(160000, 2 ** 30), ' STRATEGY FILE_COPY');
    assert.equal(cloneStrategy(150004, FILE_COPY_FROM_BYTES - 1), '');
    // PostgreSQL 14 has no STRATEGY clause (and always copies files).
    assert.equal(cloneStrategy(140010, 2 ** 30), '');
  });

  it('restores with one job per core of the worker, at least one and at most four', () => {
    assert.equal(restoreJobs(1), 1);
    assert.equal(restoreJobs(2), 2);
    assert.equal(restoreJobs(64), 4);
    assert.equal(restoreJobs(0), 1);
  });
});

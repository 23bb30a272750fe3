import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TUNING_ENV, workerTuningFromEnv } from '../../src/worker/worker-tuning';

describe('the worker\'s tuning variable', () => {
  it('leaves the SDK defaults when unset, and passes the limits it names', () => {
    assert.equal(workerTuningFromEnv({}), undefined);
    assert.deepEqual(workerTuningFromEnv({ [TUNING_ENV]: '{"maxConcurrentActivityTaskExecutions":300,"maxCachedWorkflows":0,"stickyQueueScheduleToStartTimeout":"2s"}' }), {
      maxConcurrentActivityTaskExecutions: 300,
      maxCachedWorkflows: 0,
      stickyQueueScheduleToStartTimeout: '2s',
    });
  });

  it('refuses what is not JSON, an unknown limit and a bad number, naming it', () => {
    assert.throws(() => workerTuningFromEnv({ [TUNING_ENV]: 'fast' }), /must be a JSON object/);
    assert.throws(() => workerTuningFromEnv({ [TUNING_ENV]: '{"maxActivities":3}' }), /unknown key maxActivities/);
    assert.throws(() => workerTuningFromEnv({ [TUNING_ENV]: '{"maxConcurrentWorkflowTaskExecutions":0}' }), /maxConcurrentWorkflowTaskExecutions must be a positive integer/);
  });
});

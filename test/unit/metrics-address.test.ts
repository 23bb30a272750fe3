import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { METRICS_ENV, metricsAddressFromEnv, MetricsConfigError } from '../../src/worker/telemetry';

describe('the worker\'s metrics address (NOCOBASE_MAINTENANCE_METRICS)', () => {
  it('is off when unset or empty, and taken as host:port when set', () => {
    assert.equal(metricsAddressFromEnv({}), undefined);
    assert.equal(metricsAddressFromEnv({ [METRICS_ENV]: ' ' }), undefined);
    assert.equal(metricsAddressFromEnv({ [METRICS_ENV]: '127.0.0.1:9464' }), '127.0.0.1:9464');
    assert.equal(metricsAddressFromEnv({ [METRICS_ENV]: '[::1]:9464' }), '[::1]:9464');
    assert.equal(metricsAddressFromEnv({ [METRICS_ENV]: '0.0.0.0:9464' }), '0.0.0.0:9464');
  });

  it('refuses what is not host:port, naming the variable', () => {
    for (const bad of ['9464', 'http://127.0.0.1:9464', '127.0.0.1:99999', '127.0.0.1:']) {
      assert.throws(() => metricsAddressFromEnv({ [METRICS_ENV]: bad }), (error: unknown) => error instanceof MetricsConfigError && error.message.includes(METRICS_ENV));
    }
  });
});

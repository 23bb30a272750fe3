import { DefaultLogger, Runtime, type MetricsBuffer } from '@temporalio/worker';

let installed = false;

/**
 * Workers in tests log errors only: the failures tests inject on purpose would otherwise fill the
 * output with warnings. `metrics`: a buffer the test reads the metrics from (the Runtime is
 * installed once per process: the first call decides).
 */
export function quietRuntime(metrics?: MetricsBuffer): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger('ERROR'), ...(metrics ? { telemetryOptions: { metrics: { buffer: metrics } } } : {}) });
}

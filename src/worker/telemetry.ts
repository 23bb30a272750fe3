import { Runtime } from '@temporalio/worker';
import { METRIC, SECONDS_BUCKETS } from '../common/metrics';

/** `host:port` the worker serves Prometheus metrics on (`/metrics`); unset: no metrics. */
export const METRICS_ENV = 'NOCOBASE_MAINTENANCE_METRICS';

export class MetricsConfigError extends Error {}

/**
 * The metrics address from the environment, checked: `host:port` (IPv6 hosts in brackets),
 * undefined when unset or empty.
 */
export function metricsAddressFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[METRICS_ENV]?.trim();
  if (!value) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) throw new MetricsConfigError(`${METRICS_ENV}=${value}: expected host:port, e.g. 127.0.0.1:9464`);
  return value;
}

/**
 * Installs the process's Temporal Runtime (once per process, before any connection) with the
 * SDK's Prometheus exporter on `address`: the SDK's worker metrics (task slots, poll latency,
 * schedule-to-start, sticky cache) and the procedures' own (src/workflows/procedure-metrics.ts)
 * on one `/metrics`. Counters end in `_total`; durations are in seconds. Returns the URL.
 */
export function installMetricsRuntime(address: string): string {
  const buckets = Object.fromEntries([METRIC.humanWait, METRIC.rollback, METRIC.maintenancePage, METRIC.backup].map((name) => [name, SECONDS_BUCKETS]));
  Runtime.install({
    telemetryOptions: {
      metrics: {
        prometheus: { bindAddress: address, countersTotalSuffix: true, useSecondsForDurations: true, histogramBucketOverrides: buckets },
      },
    },
  });
  return `http://${address}/metrics`;
}

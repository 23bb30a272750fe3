import { Runtime, type Logger } from '@temporalio/worker';
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
 * Installs the process's Temporal Runtime (once per process, before any connection) when either
 * is asked for: `metricsAddress`, the SDK's Prometheus exporter there, with the SDK's worker metrics
 * (task slots, poll latency, schedule-to-start, sticky cache) and the procedures' own
 * (src/workflows/procedure-metrics.ts) on one `/metrics`, counters ending in `_total`, durations in
 * seconds; `logger`, the logger every SDK, workflow and activity line goes through
 * (src/logging/process-logger.ts). Neither: the SDK's default Runtime, as before. Returns the
 * metrics URL.
 */
export function installRuntime(options: { metricsAddress?: string; logger?: Logger }): string | undefined {
  const { metricsAddress, logger } = options;
  if (metricsAddress === undefined && logger === undefined) return undefined;
  const buckets = Object.fromEntries([METRIC.humanWait, METRIC.rollback, METRIC.maintenancePage, METRIC.backup].map((name) => [name, SECONDS_BUCKETS]));
  Runtime.install({
    ...(logger ? { logger } : {}),
    telemetryOptions: {
      // The SDK core's own lines (Rust) through the same logger, not straight to stderr in its format.
      ...(logger ? { logging: { forward: {} } } : {}),
      ...(metricsAddress !== undefined
        ? { metrics: { prometheus: { bindAddress: metricsAddress, countersTotalSuffix: true, useSecondsForDurations: true, histogramBucketOverrides: buckets } } }
        : {}),
    },
  });
  return metricsAddress === undefined ? undefined : `http://${metricsAddress}/metrics`;
}

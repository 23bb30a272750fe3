import { connectClient, describeEndpoint, TemporalConnectionConfigError, temporalEndpoint } from '../client/connect';
import { ConfigError } from '../config/config-error';
import { assertSecretsResolvable, CONFIG_ENV, loadConfig } from '../config/load';
import { taskQueue as laneTaskQueue } from '../client/task-queue';
import { createWorker } from './create-worker';
import { checkMailServer } from './mail-check';
import { checkPgDump } from './pg-dump-check';
import { buildDeps } from './deps';
import { ensureSearchAttributes } from './search-attributes';
import { LogFormatError, logFormatFromEnv } from '../logging/log-line';
import { processLogger, runtimeLogger, type ProcessLogger } from '../logging/process-logger';
import { SERVICE, shutdownTracing, tracingFromEnv } from '../tracing/provider';
import { installRuntime, metricsAddressFromEnv, MetricsConfigError } from './telemetry';
import { deploymentVersionFromEnv, WorkerVersioningError } from './worker-versioning';
import { workerTuningFromEnv } from './worker-tuning';
import { cachedWorkflowBundle } from './workflow-bundle';

/** Human until the format is read: a bad NOCOBASE_MAINTENANCE_LOG_FORMAT is itself reported that way. */
let log: ProcessLogger = processLogger('human');

/**
 * `npm run worker`: validates the cluster definitions (an invalid file stops here, naming the file,
 * the key and what was expected), makes sure the search attributes exist, then polls the
 * `nocobase-maintenance` task queue (or NOCOBASE_MAINTENANCE_TASK_QUEUE's) until SIGINT/SIGTERM.
 * Logs in NOCOBASE_MAINTENANCE_LOG_FORMAT (json: one object per line), traces with
 * OTEL_EXPORTER_OTLP_ENDPOINT, metrics with NOCOBASE_MAINTENANCE_METRICS.
 */
async function main(): Promise<void> {
  const format = logFormatFromEnv();
  log = processLogger(format);
  // First: the Runtime is installed once per process, before any connection creates the default one.
  const metricsAddress = metricsAddressFromEnv();
  const logger = runtimeLogger(format);
  const metricsUrl = installRuntime({ ...(metricsAddress !== undefined ? { metricsAddress } : {}), ...(logger ? { logger } : {}) });
  // Before the first connection: the worker's own client calls are traced under the worker's name.
  const tracing = tracingFromEnv(SERVICE.worker);
  const deployment = deploymentVersionFromEnv();
  const config = loadConfig();
  assertSecretsResolvable(config);
  const endpoint = temporalEndpoint();
  const client = await connectClient(endpoint);
  // Kept open: dry runs read past runs' durations through it.
  const deps = { ...buildDeps(config), temporal: client };
  const taskQueue = laneTaskQueue();
  const tuning = workerTuningFromEnv();
  // The start-up checks run side by side with the worker's creation (a replacement worker's
  // seconds are 503 time during an upgrade); it polls only once every check has passed.
  const checks = Promise.all([
    ensureSearchAttributes(client, endpoint.namespace).then((added) => {
      if (added.length > 0) log.info(`added search attributes: ${added.join(', ')}`);
    }),
    // pg_dump no older than each server, now rather than at a backup after the nodes were stopped.
    checkPgDump(config, deps.database).then((warnings) => warnings.forEach((warning) => log.warn(warning))),
    deps.mailer && config.smtp ? checkMailServer(deps.mailer, config.smtp).then((warning) => warning && log.warn(warning)) : undefined,
  ]);
  const creating = cachedWorkflowBundle({ tracing: tracing !== undefined }).then(({ bundle, built }) => {
    log.info(`workflow bundle ${built ? 'built now and kept' : 'loaded (built before)'}: ${bundle.codePath}`);
    return createWorker({ endpoint, deps, taskQueue, deployment, workflowBundle: bundle, ...(tuning ? { tuning } : {}), ...(tracing ? { tracing } : {}) });
  });
  const [created] = await Promise.allSettled([creating, checks]).then(([made, checked]) => {
    // A failed check ends the process (main's catch exits): the worker made meanwhile never polls.
    if (checked.status === 'rejected') throw checked.reason;
    if (made.status === 'rejected') throw made.reason;
    return [made.value] as const;
  });
  const { worker, connection } = created;
  const clusters = Object.keys(config.clusters).join(', ');
  const versioning = deployment ? `deployment ${deployment.deploymentName}, build ${deployment.buildId} (runs pinned)` : 'unversioned';
  if (metricsUrl) log.info(`worker metrics (Prometheus) at ${metricsUrl}`);
  if (tracing) log.info(`worker traces (OTLP) to ${process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT} as service ${tracing.serviceName}`);
  // The time since the process started: what a replacement worker costs before it polls (bench/worker-kill.ts).
  log.info(`worker polling task queue ${taskQueue} at ${describeEndpoint(endpoint)}, ${versioning}; clusters: ${clusters} (${Math.round(process.uptime() * 1000)} ms after start)`);
  try {
    await worker.run();
  } finally {
    await deps.close();
    await connection.close();
    await client.connection.close();
    await shutdownTracing();
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    log.error(`nocobase-maintenance worker: configuration from ${process.env[CONFIG_ENV] ?? '(unset)'} is not usable:\n${error.message}`);
    process.exit(78); // EX_CONFIG
  }
  if (error instanceof TemporalConnectionConfigError) {
    log.error(`nocobase-maintenance worker: the Temporal connection is not usable: ${error.message}`);
    process.exit(78);
  }
  if (error instanceof MetricsConfigError || error instanceof WorkerVersioningError || error instanceof LogFormatError) {
    log.error(`nocobase-maintenance worker: ${error.message}`);
    process.exit(78);
  }
  if (log.format === 'json') log.error('nocobase-maintenance worker failed', { error });
  else console.error(error);
  process.exit(1);
});

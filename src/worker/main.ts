import { connectClient, describeEndpoint, TemporalConnectionConfigError, temporalEndpoint } from '../client/connect';
import { ConfigError } from '../config/config-error';
import { assertSecretsResolvable, CONFIG_ENV, loadConfig } from '../config/load';
import { taskQueue as laneTaskQueue } from '../client/task-queue';
import { createWorker } from './create-worker';
import { checkMailServer } from './mail-check';
import { buildDeps } from './deps';
import { ensureSearchAttributes } from './search-attributes';
import { LogFormatError, logFormatFromEnv } from '../logging/log-line';
import { processLogger, runtimeLogger, type ProcessLogger } from '../logging/process-logger';
import { SERVICE, shutdownTracing, tracingFromEnv } from '../tracing/provider';
import { installRuntime, metricsAddressFromEnv, MetricsConfigError } from './telemetry';
import { deploymentVersionFromEnv, WorkerVersioningError } from './worker-versioning';
import { workerTuningFromEnv } from './worker-tuning';

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
  const added = await ensureSearchAttributes(client, endpoint.namespace);
  if (added.length > 0) log.info(`added search attributes: ${added.join(', ')}`);
  // Kept open: dry runs read past runs' durations through it.
  const deps = { ...buildDeps(config), temporal: client };
  if (deps.mailer && config.smtp) {
    const warning = await checkMailServer(deps.mailer, config.smtp);
    if (warning) log.warn(warning);
  }
  const taskQueue = laneTaskQueue();
  const tuning = workerTuningFromEnv();
  const { worker, connection } = await createWorker({ endpoint, deps, taskQueue, deployment, ...(tuning ? { tuning } : {}), ...(tracing ? { tracing } : {}) });
  const clusters = Object.keys(config.clusters).join(', ');
  const versioning = deployment ? `deployment ${deployment.deploymentName}, build ${deployment.buildId} (runs pinned)` : 'unversioned';
  if (metricsUrl) log.info(`worker metrics (Prometheus) at ${metricsUrl}`);
  if (tracing) log.info(`worker traces (OTLP) to ${process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT} as service ${tracing.serviceName}`);
  log.info(`worker polling task queue ${taskQueue} at ${describeEndpoint(endpoint)}, ${versioning}; clusters: ${clusters}`);
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

import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { failureConverterPathFromEnv } from '../client/data-converter';
import { processLogger } from '../logging/process-logger';
import { tracingEnabled } from '../tracing/provider';
import { TRACING_WORKFLOW_INTERCEPTORS } from './tracing';

/**
 * Bundles src/workflows for the worker's sandbox. Webpack's report goes nowhere: at INFO it is a
 * screenful of module lists that buries what `npm start` prints. Warnings and errors still show,
 * in the process's log format. The interceptors: the procedures' log attributes always; tracing's
 * when `tracing` (by default: when OTEL_EXPORTER_OTLP_ENDPOINT is set), else it costs nothing.
 */
export function bundleWorkflows(options: { tracing?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  const log = processLogger();
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: [
      require.resolve('../workflows/log-attributes'),
      ...((options.tracing ?? tracingEnabled()) ? [TRACING_WORKFLOW_INTERCEPTORS] : []),
    ],
    // With payload encryption on, the sandbox encodes its own failures' messages and stack traces
    // too (src/codec/failure-converter.ts); the converter is chosen at bundle time.
    ...(failureConverterPathFromEnv() ? { failureConverterPath: failureConverterPathFromEnv() } : {}),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: (message: string) => log.warn(message),
      error: (message: string) => log.error(message),
    },
  });
}

import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { failureConverterPathFromEnv } from '../client/data-converter';

/**
 * Bundles src/workflows for the worker's sandbox. Webpack's report goes nowhere: at INFO it is a
 * screenful of module lists that buries what `npm start` prints. Warnings and errors still show.
 */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    // With payload encryption on, the sandbox encodes its own failures' messages and stack traces
    // too (src/codec/failure-converter.ts); the converter is chosen at bundle time.
    ...(failureConverterPathFromEnv() ? { failureConverterPath: failureConverterPathFromEnv() } : {}),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: (message: string) => console.warn(message),
      error: (message: string) => console.error(message),
    },
  });
}

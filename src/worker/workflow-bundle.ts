import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/**
 * Bundles src/workflows for the worker's sandbox. Webpack's report goes nowhere: at INFO it is a
 * screenful of module lists that buries what `npm start` prints. Warnings and errors still show.
 */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
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

import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

/**
 * Workers in tests log errors only: the failures tests inject on purpose would otherwise fill the
 * output with warnings.
 */
export function quietRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

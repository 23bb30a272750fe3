// A workflow that exists only for the Worker Versioning test: it is "in flight" across a deploy
// (it waits for a signal) and says which build finished it. Bundled on its own, so the worker's
// bundle never contains it.
import { condition, defineSignal, setHandler, workflowInfo } from '@temporalio/workflow';

export const proceedSignal = defineSignal('proceed');

/** Waits for `proceed`, then returns the build ID of the worker that ran that last workflow task. */
export async function buildProbe(): Promise<string | undefined> {
  let proceed = false;
  setHandler(proceedSignal, () => {
    proceed = true;
  });
  await condition(() => proceed);
  // Recorded in the task's completion, so a replay answers the same: deterministic.
  return workflowInfo().currentDeploymentVersion?.buildId;
}

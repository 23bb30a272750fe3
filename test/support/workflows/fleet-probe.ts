// Workflows that exist only for the fleet's unit tests: the real `fleetUpgrade`, and a stand-in
// `versionUpgrade` whose ending is chosen by the cluster's name, so a test can say "this cluster
// rolls back" without a cluster. Bundled on its own, so the worker's bundle never contains it.
import { ApplicationFailure, CancellationScope, condition, defineQuery, defineSignal, isCancellation, setHandler, sleep } from '@temporalio/workflow';
import type { VersionUpgradeInput, VersionUpgradeResult } from '../../../src/workflows/version-upgrade';

export { fleetUpgrade } from '../../../src/workflows/fleet-upgrade';

/** Ends a `hold` or `ask` cluster's fake upgrade as upgraded. */
export const releaseSignal = defineSignal('release');

/**
 * By the cluster's name: `…-rollback-…` returns rolled-back (as a rejection or a failed first node
 * does), `…-fail-…` fails as a broken rollback would, `…-hold-…` waits for `release` (or a
 * cancellation, then "rolls back" for 200 ms and ends cancelled), `…-ask-…` does the same while
 * its status says it awaits a decision; anything else is upgraded after 100 ms.
 */
export async function versionUpgrade(input: VersionUpgradeInput): Promise<VersionUpgradeResult> {
  const { cluster, image } = input;
  const asks = cluster.includes('-ask-');
  let step = 'preflight';
  let released = false;
  setHandler(releaseSignal, () => void (released = true));
  const status = () => ({ step, outcome: 'running', ...(asks ? { waitingFor: 'a decision', approval: { state: released ? 'approved' : 'awaiting' } } : {}) });
  setHandler(defineQuery('status'), status);
  const result = (outcome: VersionUpgradeResult['outcome'], reason?: string): VersionUpgradeResult => ({
    cluster, outcome, ...(reason ? { reason } : {}), from: { version: '1.6.0', images: {} }, to: { image, version: '1.7.0' }, ignoredDecisions: [], notification: { sent: false, recipients: [] }, steps: [],
  });
  try {
    step = 'verify';
    if (cluster.includes('-hold-') || asks) await condition(() => released);
    else await sleep(100);
  } catch (error) {
    if (!isCancellation(error)) throw error;
    step = 'rollback';
    await CancellationScope.nonCancellable(() => sleep(200));
    throw error;
  }
  if (cluster.includes('-rollback-')) return result('rolled-back', `rejected by alice: ${image} breaks the sign-in`);
  if (cluster.includes('-fail-')) throw ApplicationFailure.nonRetryable(`the upgrade of ${cluster} failed and the rollback failed too`, 'RollbackFailed');
  step = 'notify';
  return result('upgraded');
}

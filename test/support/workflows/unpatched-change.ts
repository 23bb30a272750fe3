// The replay test's proof that replay catches what it must: the real versionUpgrade with one
// more activity call at its start, made WITHOUT patched(). Histories recorded before it must
// fail to replay against this bundle.
import type { VersionUpgradeInput } from '../../../src/procedures/version-upgrade';
import { preflight } from '../../../src/workflows/activity-options';
import { versionUpgrade as released } from '../../../src/workflows/version-upgrade';

export async function versionUpgrade(input: VersionUpgradeInput): Promise<unknown> {
  await preflight.checkBlackout({ cluster: input.cluster });
  return released(input);
}

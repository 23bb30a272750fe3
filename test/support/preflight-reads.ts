/**
 * What a procedure's pre-flight reads. Since the patch 'preflight-reads-in-parallel' they all run
 * at once and are judged afterwards, in a fixed order; none of them changes anything, so "nothing
 * touched" means: no call outside this set.
 */
export const PREFLIGHT_READS: ReadonlySet<string> = new Set([
  'checkBlackout',
  'describeCluster',
  'findLeftovers',
  'checkClusterInvariants',
  'checkDatabase',
  'checkBackupRoom',
  'probeNode',
]);

/** The calls (as the mock cluster records them, `name` or `name:detail`) that are not pre-flight reads. */
export const notReads = (calls: string[]): string[] => calls.filter((call) => !PREFLIGHT_READS.has(call.split(':')[0] ?? call));

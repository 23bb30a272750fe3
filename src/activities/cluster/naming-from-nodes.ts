import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import { getCluster, nodeEnvironment } from './lookup';
import type { ActivityDeps } from '../deps';
import { namingFromEnv, tableNaming, type TableNaming } from '../../adapters/nocobase/table-naming';

/**
 * Learns how a cluster names NocoBase's tables from its first node's container settings: the
 * maintenance config does not repeat DB_TABLE_PREFIX / DB_UNDERSCORED / DB_SCHEMA, and a copy of
 * them there could drift from what the nodes actually run with. Every node must agree on them
 * (checkClusterInvariants refuses a cluster whose DB_* settings differ), so one node is enough.
 *
 * The answer is cached per cluster for the lifetime of the returned function (one activity
 * factory): a deployment cannot change its naming without migrating its database. Failures are
 * not cached, so a transient Docker error is retried by the next call.
 */
export function createNamingLookup(deps: ActivityDeps): (cluster: string) => Promise<TableNaming> {
  const cache = new Map<string, Promise<TableNaming>>();

  async function inspectFirstNode(clusterName: string): Promise<TableNaming> {
    const node = getCluster(deps, clusterName).nodes[0];
    if (!node) throw ApplicationFailure.nonRetryable(`cluster "${clusterName}" has no nodes`, FailureType.Misconfigured);
    const { env } = await nodeEnvironment(deps, clusterName, node);
    // Only the naming keys are read out of Env; the list itself (with DB_PASSWORD) goes no further.
    return tableNaming(namingFromEnv(env));
  }

  return (clusterName) => {
    let naming = cache.get(clusterName);
    if (!naming) {
      naming = inspectFirstNode(clusterName);
      cache.set(clusterName, naming);
      naming.catch(() => cache.delete(clusterName));
    }
    return naming;
  };
}

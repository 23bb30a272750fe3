import { Context, log } from '@temporalio/activity';
import { inspectContainer } from '../../adapters/docker/containers';
import { dropUnusedDatabase } from '../../adapters/postgres/derived-databases';
import { withMaintenanceClient } from '../../adapters/postgres/maintenance-client';
import { withSqlFailure } from '../../adapters/postgres/errors';
import { derivedName } from '../../adapters/postgres/whole-database';
import { FailureType } from '../../common/failure-types';
import type { PrunedBackups } from '../../common/retention';
import type { ClusterConfig } from '../../config/schema';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { cloneName, keepClone } from './clone-method';
import { derivedBackups, newestFirst, type DerivedKind } from './derived-backups';
import { loginFor } from './login';
import { backupStore } from './store/factory';
import { pruneStore } from './store/store-retention';

export type { PrunedBackups } from '../../common/retention';

const KINDS: DerivedKind[] = ['clone-backup', 'set-aside-database'];

/**
 * The label of the workflow run calling this activity, as src/workflows/run-identity.ts derives it
 * (the run ID without dashes, first 12): the run in progress when the caller did not say.
 */
export function callingRunLabel(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.runId.replace(/-/g, '').slice(0, 12);
  } catch {
    return undefined;
  }
}

/** The databases the cluster's node containers are configured to use (DB_DATABASE), read from nothing else of their env. */
async function databasesOfNodes(deps: ActivityDeps, cluster: ClusterConfig): Promise<Map<string, string>> {
  const used = new Map<string, string>();
  for (const node of cluster.nodes) {
    if (!('dockerHost' in node)) continue; // on Kubernetes the clusters' databases are told by the config, not by containers
    const info = await inspectContainer(deps.docker(node.dockerHost), node.container);
    const entry = info?.Config.Env?.find((variable) => variable.startsWith('DB_DATABASE='));
    if (entry) used.set(entry.slice('DB_DATABASE='.length), node.name);
  }
  return used;
}

export function createRetentionActivities(deps: ActivityDeps) {
  return {
    /**
     * The retention policy for what backups and restores leave on the database server: marks the
     * clone backup of `label` (default: the calling run's) as kept by its finished run, then keeps
     * the newest `backup.keep` clone backups and the newest `backup.keep` databases set aside by
     * completed restores, and drops the older ones. Never drops the run's own backup or set-aside
     * database, a database a node's container is configured to use (DB_DATABASE), one anybody is
     * connected to (sessions are never ended), nor anything an interrupted run left (no finished
     * run kept it: findLeftovers reports it for a person). In the backup store it keeps the
     * backups (dump and storage archive) of the newest `backup.keep` labels and deletes older
     * ones, never the calling run's (store/store-retention.ts). Call it
     * after a procedure finished (also after a completed rollback: the clone of a run that failed
     * before using it is then kept as a backup too). Safe to retry.
     */
    async pruneBackups(input: { cluster: string; label?: string }): Promise<PrunedBackups> {
      const cluster = getCluster(deps, input.cluster);
      const database = cluster.database.database;
      const label = input.label ?? callingRunLabel();
      const protectedNames = new Set(label ? [cloneName(database, label), derivedName(database, 'rb', label)] : []);
      const nodesUse = await databasesOfNodes(deps, cluster);
      const result: PrunedBackups = { kept: [], dropped: [], spared: [], unsettled: [] };
      await withMaintenanceClient(loginFor(deps, input.cluster), (client) =>
        withSqlFailure(FailureType.BackupFailed, async () => {
          if (label) await keepClone(client, database, label);
          const found = await derivedBackups(client, database);
          result.unsettled = found.filter((db) => !db.settled).map((db) => db.name);
          for (const kind of KINDS) {
            const settled = found.filter((db) => db.kind === kind && db.settled).sort(newestFirst);
            result.kept.push(...settled.slice(0, cluster.backup.keep).map((db) => db.name));
            for (const db of settled.slice(cluster.backup.keep)) {
              const node = nodesUse.get(db.name);
              if (protectedNames.has(db.name)) result.spared.push({ name: db.name, reason: `the run in progress (${label}) made it` });
              else if (node) result.spared.push({ name: db.name, reason: `node ${node} is configured to use it (DB_DATABASE)` });
              else if (await dropUnusedDatabase(client, db.name)) result.dropped.push(db.name);
              else result.spared.push({ name: db.name, reason: 'sessions are connected to it' });
            }
          }
        }),
      );
      // The run's own backups (`<label>`, and in-app maintenance's `<label>-<n>`) are never pruned.
      const own = (found: string) => label !== undefined && (found === label || found.startsWith(`${label}-`));
      result.store = await pruneStore(backupStore(deps, input.cluster), input.cluster, cluster.backup.keep, own);
      log.info('backups pruned', { cluster: input.cluster, keep: cluster.backup.keep, dropped: result.dropped, spared: result.spared, storeDeleted: result.store.deleted });
      return result;
    },
  };
}

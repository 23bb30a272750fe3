import { ApplicationFailure, log } from '@temporalio/activity';
import type { Client } from 'pg';
import { readApplicationState } from '../../adapters/nocobase/application-state';
import { databaseUnreachable, withSqlFailure } from '../../adapters/postgres/errors';
import type { PostgresLogin } from '../../adapters/postgres/login';
import { currentDatabaseOwner } from '../../adapters/postgres/owners';
import { withMaintenanceClient } from '../../adapters/postgres/maintenance-client';
import type { FreeSpaceOptions } from '../../adapters/postgres/server-space';
import { databaseInfo, ddlOnFreeDatabase, derivedName, ident, setComment } from '../../adapters/postgres/whole-database';
import { FailureType } from '../../common/failure-types';
import type { BackupMethod, BackupRecord } from '../../common/procedure-types';
import type { ClusterConfig } from '../../config/schema';
import { activityHooks } from '../activity-context';
import { getCluster } from '../cluster/lookup';
import { createNamingLookup } from '../cluster/naming-from-nodes';
import type { ActivityDeps } from '../deps';
import { isOurClone, restoreClone, takeClone, verifyClone } from './clone-method';
import { asideMark } from './derived-backups';
import { loginFor } from './login';
import { callingRunLabel } from './retention';
import { cloneRoom, dumpRoom, type BackupRoom } from './room';
import { countTables, dumpKey, finishedDump, restoreDump, takeDump, verifyDump, type DumpTools } from './dump-method';
import { backupStore } from './store/factory';
import { ensureMarkerVisible, writeMarker } from './store/shared-marker';
import { ensureDumpable, ensureRestorable } from './restorable';

export interface RestoreOutcome {
  /** The dump file or clone the database now comes from. */
  restoredFrom: string;
  /** Where the database as it was before the restore is kept (never dropped). */
  setAsideAs: string;
}

export interface BackupActivityOptions {
  /** How the clone room check asks the database server for its free space (tests fake a small disk). */
  freeSpace?: FreeSpaceOptions;
}

export type { BackupRoom } from './room';

export function createBackupActivities(deps: ActivityDeps, options: BackupActivityOptions = {}) {
  const namingOf = createNamingLookup(deps);
  /** Runs a query on the cluster's own database, mapping driver errors to DatabaseUnreachable. */
  async function onClusterDatabase<T>(cluster: ClusterConfig, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw databaseUnreachable(cluster.database, cluster.database.database, error);
    }
  }

  const loginOf = (clusterName: string): PostgresLogin => loginFor(deps, clusterName);

  function dumpTools(clusterName: string, cluster: ClusterConfig): DumpTools {
    return { login: loginOf(clusterName), place: { pgBin: cluster.backup.pgBin, searchPath: deps.searchPath }, hooks: activityHooks() };
  }

  async function databaseBytes(clusterName: string, cluster: ClusterConfig): Promise<number> {
    return onClusterDatabase(cluster, async () => {
      const { rows } = await deps.database(clusterName).query<{ size: string }>('SELECT pg_database_size(current_database()) AS size');
      return Number(rows[0]?.size ?? 0);
    });
  }

  async function room(clusterName: string, cluster: ClusterConfig, method: BackupMethod): Promise<BackupRoom> {
    const bytes = await databaseBytes(clusterName, cluster);
    if (method === 'pg_dump') return dumpRoom(cluster, bytes);
    return withMaintenanceClient(loginOf(clusterName), (client) =>
      withSqlFailure(FailureType.DatabaseUnreachable, () => cloneRoom(client, cluster, bytes, options.freeSpace)),
    );
  }

  async function applicationVersion(clusterName: string, cluster: ClusterConfig): Promise<string | null> {
    // Tables named as the nodes' DB_TABLE_PREFIX / DB_UNDERSCORED / DB_SCHEMA say.
    const naming = await namingOf(clusterName);
    return onClusterDatabase(cluster, async () => (await readApplicationState(deps.database(clusterName), naming)).version);
  }

  return {
    /**
     * Measures the database and the free space where the backup would go: for pg_dump a
     * directory store (creating the directory; an S3 store cannot tell), for a clone the filesystem of the database's
     * tablespace on the database server, which only a login allowed to run programs there can
     * learn (otherwise `enough: null` and `unknown` says why; nothing is pretended). Read-only
     * apart from that; safe to retry. Fails non-retryable as InsufficientBackupSpace when the
     * backup would not fit (a clone needs twice the database: the copy and its WAL), as
     * RestoreNotPossible when the login could not give a restored database back to its owners
     * (ensureRestorable), and, for pg_dump, when `pg_dump --schema-only` fails (ensureDumpable).
     * When the run will write to the backup store (a dump, a storage archive), writes the calling
     * run's marker there (store/shared-marker.ts): proof the store takes writes, and what a
     * restore on another worker looks for.
     */
    async checkBackupRoom(input: { cluster: string; method?: BackupMethod }): Promise<BackupRoom> {
      const cluster = getCluster(deps, input.cluster);
      const method = input.method ?? cluster.backup.method;
      const label = callingRunLabel();
      if (label && (method === 'pg_dump' || cluster.storage)) await writeMarker(backupStore(deps, input.cluster), input.cluster, label);
      const found = await room(input.cluster, cluster, method);
      await onClusterDatabase(cluster, () => ensureRestorable(deps.database(input.cluster), cluster.database.database, method));
      if (method === 'pg_dump') await ensureDumpable(dumpTools(input.cluster, cluster));
      return found;
    },

    /**
     * Takes a backup of the cluster's database: a verified, checksummed pg_dump file in
     * `backup.directory`, or a clone database on the same server (which ends this role's other
     * sessions on the database, the worker's pools included). Safe to retry: `label` names the
     * backup, and a retry returns the finished backup of that label instead of taking another.
     * Checks the room first (InsufficientBackupSpace). Heartbeats while pg_dump runs.
     */
    async backupDatabase(input: { cluster: string; method?: BackupMethod; label: string }): Promise<BackupRecord> {
      const cluster = getCluster(deps, input.cluster);
      const method = input.method ?? cluster.backup.method;
      if (method === 'clone') {
        return withMaintenanceClient(loginOf(input.cluster), (client) =>
          withSqlFailure(FailureType.BackupFailed, () =>
            takeClone(client, {
              clusterName: input.cluster,
              cluster,
              label: input.label,
              applicationVersion: () => applicationVersion(input.cluster, cluster),
              ensureRoom: async () => {
                const found = await cloneRoom(client, cluster, await databaseBytes(input.cluster, cluster), options.freeSpace);
                if (found.enough === null) log.warn('cloning without knowing the free space of the database server', { cluster: input.cluster, why: found.unknown });
              },
            }),
          ),
        );
      }
      const store = backupStore(deps, input.cluster);
      await store.ensureReady();
      const tools = dumpTools(input.cluster, cluster);
      const finished = await finishedDump(store, dumpKey(input.cluster, input.label), tools.hooks);
      if (finished) return finished;
      // The restore, on whichever worker, must see this marker (store/shared-marker.ts).
      await writeMarker(store, input.cluster, input.label);
      await room(input.cluster, cluster, method);
      const version = await applicationVersion(input.cluster, cluster);
      const pool = deps.database(input.cluster);
      const [tables, owner] = await onClusterDatabase(cluster, () => Promise.all([countTables(pool), currentDatabaseOwner(pool)]));
      return takeDump(store, { clusterName: input.cluster, label: input.label, applicationVersion: version, tables, owner }, tools);
    },

    /**
     * Brings the cluster's database back to `backup`. The current database is renamed aside to
     * `<db>_rb_<label>` (never dropped here; kept under `backup.keep` by pruneBackups), then the
     * clone is renamed into place or the dump is restored into a new database. When complete, the
     * set-aside database and then the restored one are marked with a comment: a set-aside database
     * without its mark is what an interrupted restore left (findLeftovers). Ends this
     * role's sessions on the databases involved. Safe to retry after any partial step: a marked
     * database means done; a half-restored one (the dump is still there) is dropped and redone.
     * A damaged dump or missing clone is refused before anything is touched.
     */
    async restoreDatabase(input: { cluster: string; backup: BackupRecord; label: string }): Promise<RestoreOutcome> {
      const cluster = getCluster(deps, input.cluster);
      const { backup, label } = input;
      const name = cluster.database.database;
      if (backup.cluster !== input.cluster || backup.database !== name) {
        throw ApplicationFailure.nonRetryable(
          `backup of ${backup.cluster}/${backup.database} cannot restore ${input.cluster}/${name}`,
          FailureType.RestoreFailed,
        );
      }
      const aside = derivedName(name, 'rb', label);
      const mark = `nocobase-maintenance restored from ${backup.location} label ${label}`;
      const outcome = { restoredFrom: backup.location, setAsideAs: aside };

      const tools = dumpTools(input.cluster, cluster);
      const store = backupStore(deps, input.cluster);
      return withMaintenanceClient(tools.login, (client) =>
        withSqlFailure(FailureType.RestoreFailed, async () => {
          const current = await databaseInfo(client, name);
          if (current.exists && current.comment === mark) return outcome;
          // Checked on every attempt that still has work to do: the file may have changed since.
          // First whether this worker sees the backing run's store at all, with the message that says why not.
          if (backup.method === 'pg_dump') {
            if (backup.label) await ensureMarkerVisible(store, input.cluster, backup.label, backup.writtenBy);
            await verifyDump(store, backup, tools.hooks);
          }
          const setAside = await databaseInfo(client, aside);
          if (!setAside.exists) {
            if (backup.method === 'clone') await verifyClone(client, backup);
            if (current.exists) {
              await ddlOnFreeDatabase(client, name, `ALTER DATABASE ${ident(name)} RENAME TO ${ident(aside)}`, FailureType.RestoreFailed, `set ${name} aside`);
              log.info('database set aside', { cluster: input.cluster, database: name, aside });
            } else {
              log.warn('no database to set aside: restoring into an empty place', { cluster: input.cluster, database: name });
            }
          } else if (current.exists) {
            await clearUnfinished(client, cluster, backup);
          }
          if (backup.method === 'clone') {
            if (!(await databaseInfo(client, name)).exists) await restoreClone(client, cluster, backup);
          } else {
            // Records from before the owner was kept: the set-aside database's owner is whom the nodes used.
            const owner = backup.owner ?? (await databaseInfo(client, aside)).owner ?? tools.login.user;
            await restoreDump(store, client, backup, owner, tools);
          }
          // Marked before the database: a set-aside database without its mark is an interrupted restore's.
          if ((await databaseInfo(client, aside)).exists) await setComment(client, aside, asideMark(name, label, backup.location, new Date()));
          await setComment(client, name, mark);
          log.info('database restored', { cluster: input.cluster, database: name, from: backup.location, aside });
          return outcome;
        }),
      );
    },

    /**
     * Drops a clone backup (when no clone is to be kept after a successful upgrade). Safe to
     * retry: a clone already gone is fine. Refuses to drop a database that is not our clone. Dump
     * files are left alone on purpose: they are cheap, off the database server, and an operator's
     * last resort; pruning them is a retention policy, not part of a procedure.
     */
    async discardBackup(input: { cluster: string; backup: BackupRecord }): Promise<void> {
      const cluster = getCluster(deps, input.cluster);
      if (input.backup.method !== 'clone') return;
      const clone = input.backup.location;
      if (clone === cluster.database.database) {
        throw ApplicationFailure.nonRetryable(`refusing to drop ${clone}: it is the cluster's database, not a clone`, FailureType.InvalidInput);
      }
      await withMaintenanceClient(loginOf(input.cluster), (client) =>
        withSqlFailure(FailureType.BackupFailed, async () => {
          const info = await databaseInfo(client, clone);
          if (!info.exists) return;
          if (!isOurClone(info.comment)) {
            throw ApplicationFailure.nonRetryable(`refusing to drop ${clone}: it is not a clone made by nocobase-maintenance`, FailureType.InvalidInput);
          }
          await ddlOnFreeDatabase(client, clone, `DROP DATABASE IF EXISTS ${ident(clone)}`, FailureType.BackupFailed, `drop clone ${clone}`);
          log.info('clone backup dropped', { cluster: input.cluster, clone });
        }),
      );
    },
  };
}

/**
 * The database exists unmarked while the old one is already aside: an earlier attempt died
 * before finishing. A half pg_restore is dropped (the dump file, not it, is the copy that
 * matters); a renamed clone only lacks its mark, which the caller adds.
 */
async function clearUnfinished(client: Client, cluster: ClusterConfig, backup: BackupRecord): Promise<void> {
  const name = cluster.database.database;
  if (backup.method === 'clone') {
    if ((await databaseInfo(client, backup.location)).exists) {
      throw ApplicationFailure.nonRetryable(
        `${name} exists although it was set aside and the clone ${backup.location} is still there: someone else created it`,
        FailureType.RestoreFailed,
      );
    }
    return;
  }
  await ddlOnFreeDatabase(client, name, `DROP DATABASE ${ident(name)}`, FailureType.RestoreFailed, `drop the half-restored ${name}`);
  log.warn('dropped a half-restored database to restore it again', { database: name, from: backup.location });
}

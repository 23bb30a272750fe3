import type { BackupStoreConfig } from '../../../config/backup-store';
import { getCluster } from '../../cluster/lookup';
import type { ActivityDeps } from '../../deps';
import type { BackupStore } from './backup-store';
import { directoryStore } from './directory-store';
import { s3Store } from './s3-store';

/**
 * The one place that picks the backup store's adapter, from `backup.store.kind` (as
 * load-balancer/factory.ts does for the traffic switch). Credentials come from the worker's
 * environment or files named by the config, read when a request needs them.
 */
export function storeFor(config: BackupStoreConfig, env: NodeJS.ProcessEnv = process.env): BackupStore {
  switch (config.kind) {
    case 'directory':
      return directoryStore(config);
    case 's3':
      return s3Store(config, env);
  }
}

/** The cluster's backup store. */
export function backupStore(deps: ActivityDeps, clusterName: string): BackupStore {
  return storeFor(getCluster(deps, clusterName).backup.store);
}

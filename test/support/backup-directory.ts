import type { ClusterConfig } from '../../src/config/schema';

/** The path of a cluster's directory backup store (the stack's clusters use one). */
export function directoryOf(cluster: ClusterConfig): string {
  const store = cluster.backup.store;
  if (store.kind !== 'directory') throw new Error(`expected a directory backup store, got ${store.kind}`);
  return store.path;
}

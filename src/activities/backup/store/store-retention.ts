import { readText, type BackupStore } from './backup-store';
import { sidecarKey } from './backup-objects';
import { markerKey } from './shared-marker';

/** A backup in the store: the objects of one label (dump, storage archive), known by their sidecars. */
interface StoredBackup {
  label: string;
  createdAt: string;
  keys: string[];
}

export interface StorePruned {
  /** Labels of the newest `keep` backups, kept. */
  kept: string[];
  /** Objects deleted (dumps, archives, their sidecars and markers). */
  deleted: string[];
}

/**
 * `backup.keep` for the backup store: keeps the backups (by label, newest `createdAt` first) of
 * the newest `keep` labels of this cluster and deletes the older ones' objects, sidecar last so an
 * interrupted prune leaves nothing that looks complete. Never the labels `protect` says (the run in
 * progress). Only objects a sidecar of this cluster names are touched. Safe to retry.
 */
export async function pruneStore(store: BackupStore, clusterName: string, keep: number, protect: (label: string) => boolean): Promise<StorePruned> {
  const byLabel = new Map<string, StoredBackup>();
  for (const entry of await store.list(`${clusterName}-`)) {
    if (!entry.key.endsWith('.json')) continue;
    const text = await readText(store, entry.key);
    if (text === null) continue;
    let record: { cluster?: string; label?: string; createdAt?: string };
    try {
      record = JSON.parse(text) as typeof record;
    } catch {
      continue; // not ours
    }
    if (record.cluster !== clusterName || !record.label || !record.createdAt) continue;
    const found = byLabel.get(record.label) ?? { label: record.label, createdAt: record.createdAt, keys: [] };
    if (record.createdAt > found.createdAt) found.createdAt = record.createdAt;
    found.keys.push(entry.key.slice(0, -'.json'.length));
    byLabel.set(record.label, found);
  }
  const newestFirst = [...byLabel.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const result: StorePruned = { kept: newestFirst.slice(0, keep).map((backup) => backup.label), deleted: [] };
  for (const backup of newestFirst.slice(keep)) {
    if (protect(backup.label)) {
      result.kept.push(backup.label);
      continue;
    }
    for (const key of backup.keys) {
      await store.delete(key);
      await store.delete(sidecarKey(key));
      result.deleted.push(key, sidecarKey(key));
    }
    await store.delete(markerKey(clusterName, backup.label));
    result.deleted.push(markerKey(clusterName, backup.label));
  }
  return result;
}

/**
 * The retention policy (`backup.keep`) as it crosses the activity/workflow boundary: what
 * pruneBackups did, and what a procedure reports about it. Plain JSON only.
 */

/** What pruneBackups did with the clone backups and set-aside databases on the database server. */
export interface PrunedBackups {
  /** The newest `backup.keep` of each kind, kept. */
  kept: string[];
  dropped: string[];
  /** Past the newest `backup.keep` but left, and why: the run's own, a node's database, in use. */
  spared: { name: string; reason: string }[];
  /** Left by interrupted runs: never pruned, a person decides (findLeftovers says how). */
  unsettled: string[];
  /** The backup store (dumps, storage archives): labels of the newest `backup.keep` backups kept, objects deleted. */
  store?: { kept: string[]; deleted: string[] };
}

/**
 * The retention applied when a procedure finished: what pruneBackups did, why it failed (the
 * procedure's own outcome stands), or why it was not run (a rollback that needed a person).
 */
export type RetentionOutcome =
  | ({ outcome: 'pruned' } & PrunedBackups)
  | { outcome: 'failed'; error: string }
  | { outcome: 'skipped'; reason: string };

/**
 * What a run that did not finish (terminated, reset, or its rollback abandoned) left on a cluster,
 * as findLeftovers reports it. Crosses the activity/workflow boundary, so plain JSON only.
 */

export type LeftoverKind = 'saved-container' | 'set-aside-database' | 'clone-backup' | 'maintenance-on' | 'suspended-restart-policy';

export interface Leftover {
  kind: LeftoverKind;
  /** The container (saved, or the node's own whose restart policy is held), the database, or the maintenance map key. */
  name: string;
  createdAt?: string;
  /** What it is, and the exact command or step that resolves it, in words. */
  recovery: string;
}

import type { NodeRole } from './node-order';

/**
 * Data that crosses the workflow/activity boundary. Plain JSON only, and never a secret: all of it
 * ends up in workflow history, visible in the Temporal UI.
 */

export interface NodeSnapshot {
  name: string;
  container: string;
  /** The image reference the container was created from. */
  image: string;
  imageId: string;
  /** Docker's state: created, running, exited, ... */
  state: string;
  running: boolean;
  /**
   * `worker`: a WORKER_MODE node (no user traffic, started last). Absent from plans recorded
   * before roles existed, which mean `app`.
   */
  role?: NodeRole;
}

export interface ClusterPlan {
  cluster: string;
  nodes: NodeSnapshot[];
  database: { host: string; port: number; database: string };
  loadBalancer: { backend: string; url?: string | undefined };
  recipients: string[];
  /** Who may approve or reject a decision; empty means anyone. */
  approvers: string[];
  /** The cluster's approval policy (`approval:`); absent from plans recorded before it existed, which mean open mode. */
  approvalPolicy?: ApprovalPolicyPlan;
  /** Middleware an upgrade restarts while every node is down. */
  restartMiddleware: string[];
  /** How long a failing undo is retried on its own before a person is asked (`timeouts.rollback`). */
  rollbackDeadlineMs?: number;
  /** How many healthy previous-version nodes are enough to give traffic back after a rollback (`rollback.quorum`). */
  rollbackQuorum?: number;
}

export interface NodeReadiness {
  node: string;
  /** The application version recorded in the database, when it was read. */
  version: string | null;
  plugins?: PluginSummary;
  waitedMs: number;
  /** The version the node itself reports (`GET /api/app:getInfo`), when it answered. */
  appVersion?: string;
}

export interface PluginSummary {
  total: number;
  builtIn: number;
  builtInReady: number;
  enabled: number;
  enabledNotInstalled: number;
}

export interface CompensationOutcome {
  step: string;
  ok: boolean;
  error?: string;
}

export interface NotificationOutcome {
  sent: boolean;
  recipients: string[];
  messageId?: string;
  /** Why nothing was sent (no recipients, no SMTP configured) or why sending failed. */
  reason?: string;
}

export type BackupMethod = 'pg_dump' | 'clone';

/** Where a backup is and how to trust it. No credentials: it is kept in workflow history. */
export interface BackupRecord {
  method: BackupMethod;
  cluster: string;
  /** The database that was backed up. */
  database: string;
  /**
   * pg_dump: where the dump is, for a person (`/var/backups/…/x.dump`, `s3://bucket/prefix/x.dump`);
   * clone: the name of the clone database.
   */
  location: string;
  /** pg_dump: the dump's key in the cluster's backup store. Absent in older records: the file name of `location`. */
  key?: string;
  /** pg_dump: the backup's label, whose marker a restore must see in the store (shared-marker.ts). */
  label?: string;
  /** pg_dump: the worker (host and pid) that wrote it, for the message when another cannot see it. */
  writtenBy?: string;
  sizeBytes: number;
  /** sha256 (hex) of the dump file; pg_dump only. */
  checksum?: string;
  durationMs: number;
  createdAt: string;
  /** The application version NocoBase had recorded when the backup was taken. */
  applicationVersion: string | null;
  /**
   * The role that owned the database when the backup was taken (the nodes' DB_USER, usually not
   * the worker's login): a restore gives the database back to it. Absent in records written
   * before it was kept; then the restore takes the owner of the database it sets aside.
   */
  owner?: string;
}

/**
 * A backup of the cluster's shared storage (`/app/nocobase/storage`): a tar of its contents in the
 * cluster's backup store, next to the database dump, with a `.json` sidecar holding this record.
 */
export interface StorageBackupRecord {
  cluster: string;
  /** Where the tar file is, for a person: a path in a shared directory or an s3:// URL. */
  location: string;
  /** The archive's key in the cluster's backup store. Absent in older records: the file name of `location`. */
  key?: string;
  /** The backup's label, whose marker a restore must see in the store (shared-marker.ts). */
  label?: string;
  /** The worker (host and pid) that wrote it. */
  writtenBy?: string;
  sizeBytes: number;
  /** sha256 (hex) of the tar file. */
  checksum: string;
  /** Regular files in the archive. */
  files: number;
  durationMs: number;
  createdAt: string;
  /** What was archived: the named Docker volume or the directory on the storage's Docker host. */
  source: `volume:${string}` | `hostPath:${string}`;
}

/** A cluster's approval policy as the workflow applies it (config/approval.ts). */
export interface ApprovalPolicyPlan {
  mode: 'open' | 'signed';
  minApprovals: number;
  twoPersonRule: boolean;
  allowProceedOnTimeout: boolean;
  maxApprovalWaitMs?: number;
  /** Whether the worker can mail signed links (it has `approvals.keys` and `pageUrl`). */
  links: boolean;
  /** How long a mailed token is valid at most (`approvals.linkTtl`): a long wait mails new ones before. */
  linkTtlMs?: number;
  /**
   * Other names of the approvers (a login, a second address) → the name they stand for, all in
   * lower case: decisions are compared and recorded under that one canonical name. Plans made
   * before it carry none, and compare names as they did then.
   */
  aliases?: Record<string, string>;
}

/**
 * Distinct approvals a run needs: under the two-person rule at least two, whatever the input says
 * about who started it (so the starter can be at most one of them).
 */
export function approvalsNeeded(rules: Pick<ApprovalPolicyPlan, 'minApprovals' | 'twoPersonRule'>): number {
  return rules.twoPersonRule ? Math.max(2, rules.minApprovals) : rules.minApprovals;
}

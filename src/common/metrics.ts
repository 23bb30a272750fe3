/**
 * The names of the procedures' Prometheus metrics (emitted by src/workflows/procedure-metrics.ts,
 * exported by the worker, src/worker/telemetry.ts). Listed in README "Observability" and used by
 * deploy/prometheus/alerts.yml: changing one breaks dashboards and alerts. Counters get `_total`
 * on export.
 */
export const METRIC = {
  runsStarted: 'nocobase_maintenance_runs_started',
  runsEnded: 'nocobase_maintenance_runs_ended',
  step: 'nocobase_maintenance_step',
  waitingForPerson: 'nocobase_maintenance_waiting_for_person',
  humanWait: 'nocobase_maintenance_human_wait_seconds',
  approvalDeadline: 'nocobase_maintenance_approval_deadline_timestamp_seconds',
  rollbackBlocked: 'nocobase_maintenance_rollback_blocked',
  rollback: 'nocobase_maintenance_rollback_seconds',
  maintenancePage: 'nocobase_maintenance_page_seconds',
  lastMaintenancePage: 'nocobase_maintenance_page_last_seconds',
  lastMaintenancePageEnd: 'nocobase_maintenance_page_last_end_timestamp_seconds',
  backup: 'nocobase_maintenance_backup_seconds',
  backupSize: 'nocobase_maintenance_backup_size_bytes',
  preflight: 'nocobase_maintenance_preflight',
} as const;

/** Bucket bounds (seconds) of the duration histograms: from a quick stand-in run to a long human wait. */
export const SECONDS_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400];


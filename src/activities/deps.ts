import type { Client } from '@temporalio/client';
import type Docker from 'dockerode';
import type { Pool } from 'pg';
import type { Transporter } from 'nodemailer';
import type { MaintenanceConfig } from '../config/schema';
import type { HaproxyRuntime } from '../adapters/haproxy/runtime';
import type { PostgresLogin } from '../adapters/postgres/login';
import type { KubeApi } from '../adapters/kubernetes/api';

/**
 * Everything an activity may touch, passed in explicitly so tests can hand real or fake
 * components to createActivities() and no activity reaches for a module-level client.
 */
export interface ActivityDeps {
  readonly config: MaintenanceConfig;
  /** A Docker client for a node's `dockerHost`; implementations cache one per host. */
  docker(dockerHost: string): Docker;
  /** A connection pool to a cluster's database, its password resolved inside the worker. */
  database(cluster: string): Pool;
  /**
   * The login for whole-database work on a cluster (clone, rename, drop, pg_dump, pg_restore),
   * its password resolved by the worker from the same secret as `database`'s. Resolved on each
   * call (a rotated password file is picked up); throws when the secret cannot be resolved.
   */
  databaseLogin(cluster: string): PostgresLogin;
  /**
   * The PATH child processes get (pg_dump and pg_restore without `backup.pgBin` are looked up in
   * it). They get this, their login and nothing else of the worker's environment.
   */
  readonly searchPath?: string;
  haproxy(runtimeApi: string): HaproxyRuntime;
  /** The Kubernetes API client of a cluster with a `kubernetes:` section (its kubeconfig or the worker's service account). */
  kubernetes?(cluster: string): KubeApi;
  /** Absent when the configuration has no `smtp` section: notifications are then skipped. */
  readonly mailer?: Transporter;
  /** The Temporal Web UI's base URL, for links in notifications (TEMPORAL_UI_URL). */
  readonly temporalUiUrl?: string;
  /** A Temporal client, for activities that read procedure history (dry-run estimates). */
  readonly temporal?: Client;
  /** How often waiting activities look again; tests shorten it. */
  readonly pollIntervalMs?: number;
}

import type { NodeConfig } from '../../config/schema';

/**
 * The traffic switch: the whole port the load-balancer activities speak (as flagger's
 * pkg/router/router.go is its routers' port). Each kind of load balancer is one adapter beside
 * this file (haproxy-switch.ts, nginx-switch.ts); factory.ts is the one place that picks it from
 * `loadBalancer.kind`. Procedures and the saga name none of them: they call the activities.
 *
 * Every change an adapter makes must survive a reload and a restart of the load balancer (it is
 * written where the load balancer reads it at start), and must be idempotent.
 */

/** Administrative server states: `ready` serves, `drain` finishes what it has, `maint` takes nothing. */
export type ServerAdminState = 'ready' | 'drain' | 'maint';

export interface ServerStatus {
  server: string;
  /**
   * `UP` when the server takes traffic and answers its health check; anything else is not serving
   * (HAProxy's status column: DOWN, MAINT, DRAIN, "UP 1/2"…; Nginx's adapter: DOWN, MAINT, DRAIN, RELOADING).
   */
  status: string;
  /** Requests the server may still be handling (HAProxy's `scur`; Nginx: old workers still shutting down). */
  sessions: number;
}

/** One node as the switch knows it: its config, and its server's name in the load balancer. */
export interface SwitchServer {
  node: NodeConfig;
  server: string;
}

export interface TrafficSwitch {
  /** Sets the servers' administrative state where the load balancer serves from and where it reads at (re)start. */
  setServers(servers: SwitchServer[], state: ServerAdminState): Promise<void>;
  /** The servers' status, in the order asked. A server the load balancer lacks is LoadBalancerError. */
  statuses(servers: SwitchServer[]): Promise<ServerStatus[]>;
  /** Switches the 503 maintenance page on or off, lastingly. */
  setMaintenance(on: boolean): Promise<void>;
  /** Whether the maintenance page is on now (null: the switch has no entry for this cluster). */
  maintenance(): Promise<boolean | null>;
  /** The exact steps by which a person turns a maintenance page left on off (leftovers' recovery text). */
  maintenanceRecovery(): string;
  /**
   * Looks at the switch and the listed servers and puts back whatever differs from `wanted`
   * (a reload with stale files, a hand-made change); returns one sentence per thing put back.
   */
  reassert(wanted: { maintenance: boolean; servers: { server: SwitchServer; state: ServerAdminState }[] }): Promise<string[]>;
}

import { z } from 'zod';
import { backupStoreSchema, ONE_STORE_PROBLEM, type BackupStoreConfig } from './backup-store';
import { duration } from './duration';
import { CLUSTER_NAME } from '../common/cluster-name';
import { NODE_ROLES, noAppNodeProblem, roleOf } from '../common/node-order';
import { approvalPolicySchema, approvalsSchema } from './approval';
import { loadBalancerSchema } from './load-balancer';
import { DOCKER_HOST_EXAMPLES, DOCKER_HOST_PATTERN, dockerHostsProblems, dockerHostsSchema } from './docker-hosts';

/**
 * The cluster definitions file (YAML at NOCOBASE_MAINTENANCE_CONFIG). Objects are strict so a
 * misspelt key is reported instead of silently ignored: a typo in `passwordFile` must not become
 * "no password".
 */

const name = z.string().regex(CLUSTER_NAME, 'expected lower-case letters, digits and dashes, starting with a letter or digit');


/** tcp://, http(s):// and ssh:// hosts also need their entry under the top-level `dockerHosts:`. */
const dockerHost = z.string().regex(DOCKER_HOST_PATTERN, `expected a Docker host such as ${DOCKER_HOST_EXAMPLES}`);

export const dockerNodeSchema = z.strictObject({
  name,
  dockerHost,
  container: z.string().min(1),
  healthUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://10.0.0.1:13000/api/__health_check' }),
  /** The node's server name in the load balancer backend; defaults to the node name. */
  lbServer: z.string().min(1).optional(),
  /**
   * `worker`: a node started with NocoBase's WORKER_MODE (service splitting) that runs background
   * jobs only. The procedures never give it load-balancer traffic and start it after every app
   * node; it needs no server in the backend. Absent means `app`.
   */
  role: z.enum(NODE_ROLES, { error: 'expected app (serves users, the default) or worker (WORKER_MODE, background jobs only)' }).optional(),
});
const nodeRole = z.enum(NODE_ROLES, { error: 'expected app (serves users, the default) or worker (WORKER_MODE, background jobs only)' }).optional();

/**
 * A node of a cluster on Kubernetes: one replica of a Deployment in the cluster's namespace. The
 * replicas of a Deployment are interchangeable, so a node is a count: "replica 2 of nocobase" is
 * running while the Deployment has at least two replicas, and stopping it scales the Deployment
 * down to one. List replica 1..N of each Deployment, N being its size at full strength.
 */
export const kubernetesNodeSchema = z.strictObject({
  name,
  deployment: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a Deployment name such as nocobase'),
  replica: z.number().int().min(1).max(32),
  role: nodeRole,
});

/**
 * Parses `value` with the schema its keys choose and reports that schema's own issues (the key
 * that is wrong and why), not a union's "matches neither".
 */
function pickedBy<A extends z.ZodType, B extends z.ZodType>(choose: (value: Record<string, unknown>) => boolean, ifChosen: A, otherwise: B) {
  return z.unknown().transform((value, ctx): z.output<A> | z.output<B> => {
    const schema = value !== null && typeof value === 'object' && choose(value as Record<string, unknown>) ? ifChosen : otherwise;
    const result = schema.safeParse(value);
    if (result.success) return result.data as z.output<A> | z.output<B>;
    for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  });
}

/** A node is a Docker container (dockerHost, container) or a replica of a Kubernetes Deployment (deployment, replica). */
export const nodeSchema = pickedBy((value) => 'deployment' in value || 'replica' in value, kubernetesNodeSchema, dockerNodeSchema);

/** How the worker reaches the Kubernetes API of a cluster on Kubernetes, and where the cluster lives. */
export const kubernetesSchema = z.strictObject({
  /** A kubeconfig file the worker reads; absent: the worker's own service account (in-cluster). */
  kubeconfig: z.string().startsWith('/', 'expected an absolute path').optional(),
  /** A context of that file; absent: its current context. */
  context: z.string().min(1).optional(),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a namespace name such as nocobase'),
  /** The port NocoBase listens on in its pods (APP_PORT), probed on each pod's address. */
  appPort: z.number().int().min(1).max(65535).default(13000),
  /** The image of the Job that archives and restores the storage PVC (needs sh and tar). */
  toolImage: z.string().min(1).optional(),
});


export const databaseSchema = z
  .strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    /** Name of the worker's environment variable that holds the password. */
    passwordEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
    /** File (readable by the worker) that holds the password. */
    passwordFile: z.string().min(1).optional(),
    /** TLS to the server, verified (chain and host name) for the worker's connections and pg_dump/pg_restore alike. */
    ssl: z.boolean().default(false),
    /** With ssl: the CA file the server's certificate must chain to, for the pool and libpq alike; unset, the system bundle (SYSTEM_CA_BUNDLE). */
    sslRootCert: z.string().min(1).optional(),
    /** Database to connect to while the cluster's database is cloned, renamed or recreated. */
    maintenanceDatabase: z.string().min(1).default('postgres'),
  })
  .refine((db) => (db.passwordEnv === undefined) !== (db.passwordFile === undefined), {
    message: 'expected exactly one of passwordEnv or passwordFile (passwords never go in this file)',
  });

/**
 * The storage every node shares (`/app/nocobase/storage`: uploads, plugins). NocoBase's own backup
 * covers it, and so must ours: a rollback that restores the database but not the files leaves
 * records pointing at files that changed.
 */
export const dockerStorageSchema = z
  .strictObject({
    /** The Docker host where the volume or directory lives. */
    dockerHost,
    volume: z.string().min(1).optional(),
    hostPath: z.string().startsWith('/', 'expected an absolute path').optional(),
    mountPath: z.string().startsWith('/').default('/app/nocobase/storage'),
  })
  .refine((storage) => (storage.volume === undefined) !== (storage.hostPath === undefined), {
    message: 'expected exactly one of volume or hostPath',
  });
/** On Kubernetes: the ReadWriteMany PVC every app pod mounts, archived and restored by a Job that mounts it. */
export const kubernetesStorageSchema = z.strictObject({
  pvc: z.string().min(1),
  mountPath: z.string().startsWith('/').default('/app/nocobase/storage'),
});

export const storageSchema = pickedBy((value) => 'pvc' in value, kubernetesStorageSchema, dockerStorageSchema);


const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date such as 2026-12-24');

export const blackoutSchema = z
  .strictObject({ from: isoDate, to: isoDate, reason: z.string().min(1) })
  .refine((period) => period.from <= period.to, { message: 'expected from <= to' });

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Middleware NocoBase's cluster uses (Redis for cache, pub/sub, locks, queues). */
export const middlewareSchema = z.strictObject({
  name,
  dockerHost,
  container: z.string().min(1),
  /** Restart it while every node is down during an upgrade, as NocoBase's v1 procedure says. */
  restartDuringUpgrade: z.boolean().default(false),
});

export const clusterSchema = z
  .strictObject({
    nodes: z.array(nodeSchema).min(1).max(32, 'expected at most 32 nodes (NocoBase cluster mode allocates at most 32 worker IDs)'),
    /** Free-form labels (`region: eu`, `tier: gold`) a fleet upgrade selects clusters by. */
    labels: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/, 'expected a label key such as region or team.example/tier'), z.string().max(63)).default({}),
    database: databaseSchema,
    loadBalancer: loadBalancerSchema,
    notifications: z.strictObject({ recipients: z.array(z.email()).default([]) }).default({ recipients: [] }),
    backup: z
      .strictObject({
      /**
       * pg_dump: a verified custom-format file in the backup store; clone: CREATE DATABASE ...
       * TEMPLATE on the database server itself (every worker reaches it), rolled back by renaming.
       */
      method: z.enum(['pg_dump', 'clone']).default('pg_dump'),
      /** Where dumps and storage archives go: every worker must reach it (config/backup-store.ts). */
      store: backupStoreSchema.optional(),
      /** The older spelling of `store: { kind: directory, path }`. */
      directory: z.string().startsWith('/', 'expected an absolute path').optional(),
      /** Directory holding pg_dump and pg_restore (no older than the server); default: the PATH. */
      pgBin: z.string().startsWith('/', 'expected an absolute path').optional(),
      /** An image with a POSIX shell, tar and find, run next to the storage to back it up and restore it. */
      toolImage: z.string().min(1).default('busybox:1.36'),
      /**
       * How many clone backups, and how many databases set aside by restores, pruneBackups keeps
       * (the newest of each that a finished run kept) on the database server, and how many
       * backups (dump and storage archive of one label) in the backup store; older ones are
       * dropped. At least 1: the newest backup is never pruned.
       */
      keep: z.number().int().min(1, 'expected at least 1: the newest backup is never pruned').default(3),
    })
      .superRefine((backup, ctx) => {
        if ((backup.store === undefined) === (backup.directory === undefined)) ctx.addIssue({ code: 'custom', path: ['store'], message: ONE_STORE_PROBLEM });
      })
      .transform(({ directory, store, ...backup }) => ({ ...backup, store: store ?? ({ kind: 'directory', path: directory ?? '/' } as BackupStoreConfig) })),
    /** The time zone maintenance windows and blackout dates are meant in (IANA name). */
    timeZone: z.string().refine(validTimeZone, 'expected an IANA time zone such as Europe/Berlin').default('UTC'),
    /** Days (inclusive, in `timeZone`) no procedure may start unless forced with a reason. */
    blackout: z.array(blackoutSchema).default([]),
    storage: storageSchema.optional(),
    /** Present for a cluster on Kubernetes: its nodes are Deployment replicas, its load balancer a Service. */
    kubernetes: kubernetesSchema.optional(),
    middleware: z.array(middlewareSchema).default([]),
    rollback: z
      .strictObject({
        /**
         * How many nodes, healthy on the previous version, are enough to give traffic back after a
         * rollback; the others are reported. Default: a majority of the nodes. One sick node must
         * not keep the whole cluster behind the maintenance page.
         */
        quorum: z.number().int().min(1).optional(),
      })
      .default({}),
    approval: approvalPolicySchema,
    timeouts: z
      .strictObject({
        nodeReady: duration.default(600_000),
        nodeStop: duration.default(30_000),
        loadBalancerReady: duration.default(60_000),
        /**
         * How long a node may answer the same 503 error that is not a known progress state
         * (installing, upgrading, starting) before the wait gives up on it as NodeFailed.
         * `APP_ERROR` fails at once.
         */
        nodeFailedGrace: duration.default(20_000),
        /**
         * How long a rollback retries an undo that fails for a moment (a dockerd restart, a
         * PostgreSQL failover) before it stops and asks a person.
         */
        rollback: duration.default(600_000),
      })
      .default({ nodeReady: 600_000, nodeStop: 30_000, loadBalancerReady: 60_000, nodeFailedGrace: 20_000, rollback: 600_000 }),
  })
  .superRefine((cluster, ctx) => {
    // One platform per cluster: Deployment replicas behind a Service with a PVC, or containers.
    const onKubernetes = cluster.kubernetes !== undefined;
    cluster.nodes.forEach((node, index) => {
      if ('deployment' in node !== onKubernetes) {
        ctx.addIssue({ code: 'custom', path: ['nodes', index], message: onKubernetes ? 'expected a Kubernetes node (deployment, replica): the cluster has a kubernetes: section' : 'a Kubernetes node (deployment, replica) needs the cluster\'s kubernetes: section (namespace, kubeconfig)' });
      }
    });
    if (onKubernetes !== (cluster.loadBalancer.kind === 'service')) {
      ctx.addIssue({ code: 'custom', path: ['loadBalancer', 'kind'], message: onKubernetes ? 'expected kind: service on a cluster with a kubernetes: section' : 'kind: service needs the cluster\'s kubernetes: section' });
    }
    if (cluster.storage && 'pvc' in cluster.storage !== onKubernetes) {
      ctx.addIssue({ code: 'custom', path: ['storage'], message: onKubernetes ? 'expected storage: { pvc: <claim> } on a cluster with a kubernetes: section' : 'storage: { pvc } needs the cluster\'s kubernetes: section' });
    }
    const replicas = new Map<string, number[]>();
    for (const node of cluster.nodes) if ('deployment' in node) replicas.set(node.deployment, [...(replicas.get(node.deployment) ?? []), node.replica]);
    for (const [deployment, listed] of replicas) {
      const sorted = [...listed].sort((a, b) => a - b);
      if (sorted.some((replica, index) => replica !== index + 1)) {
        ctx.addIssue({ code: 'custom', path: ['nodes'], message: `expected replicas 1..${sorted.length} of Deployment ${deployment}, each once (got ${sorted.join(', ')})` });
      }
    }
    const seen = new Map<string, number>();
    cluster.nodes.forEach((node, index) => {
      for (const key of [`name:${node.name}`, 'deployment' in node ? `replica:${node.deployment}/${node.replica}` : `container:${node.dockerHost}/${node.container}`]) {
        const first = seen.get(key);
        if (first !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['nodes', index], message: `duplicates nodes[${first}] (${key.split(':')[0]} must be unique)` });
        }
        seen.set(key, index);
      }
    });
  });

export const smtpSchema = z
  .strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(25),
    /** TLS from the first byte (port 465). */
    secure: z.boolean().default(false),
    /** Refuse to send unless the server upgrades the connection with STARTTLS (port 587). */
    requireTLS: z.boolean().default(false),
    from: z.string().min(3),
    userEnv: z.string().optional(),
    passwordEnv: z.string().optional(),
  })
  .refine((smtp) => (smtp.userEnv === undefined) === (smtp.passwordEnv === undefined), {
    message: 'userEnv and passwordEnv go together: name both environment variables, or neither',
    path: ['passwordEnv'],
  });

export const configSchema = z
  .strictObject({
    smtp: smtpSchema.optional(),
  /** The approval links' signing keys and page (approval.ts beside this file). */
  approvals: approvalsSchema.optional(),
    /** How to reach each tcp://, http(s):// or ssh:// Docker host the clusters name (config/docker-hosts.ts). */
    dockerHosts: dockerHostsSchema,
    clusters: z
      .record(name, clusterSchema)
      .refine((clusters) => Object.keys(clusters).length > 0, { message: 'expected at least one cluster' })
      .superRefine((clusters, ctx) => {
        // Here rather than in clusterSchema: the message names the cluster, not only the key path.
        for (const [cluster, definition] of Object.entries(clusters)) {
          if (!definition.nodes.some((node) => roleOf(node) === 'app')) ctx.addIssue({ code: 'custom', path: [cluster, 'nodes'], message: noAppNodeProblem(cluster) });
        }
      }),
  })
  .superRefine((config, ctx) => {
    // Top level: whether a cluster's Docker host is allowed depends on the dockerHosts map.
    for (const { path, message } of dockerHostsProblems(config)) ctx.addIssue({ code: 'custom', path, message });
  });

export type NodeConfig = z.infer<typeof nodeSchema>;
export type DockerNodeConfig = z.infer<typeof dockerNodeSchema>;
export type KubernetesNodeConfig = z.infer<typeof kubernetesNodeSchema>;
export type KubernetesConfig = z.infer<typeof kubernetesSchema>;
export type DockerStorageConfig = z.infer<typeof dockerStorageSchema>;
export type KubernetesStorageConfig = z.infer<typeof kubernetesStorageSchema>;
export type DatabaseConfig = z.infer<typeof databaseSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type SmtpConfig = z.infer<typeof smtpSchema>;
export type StorageConfig = z.infer<typeof storageSchema>;
export type MiddlewareConfig = z.infer<typeof middlewareSchema>;
export type BlackoutPeriod = z.infer<typeof blackoutSchema>;
export type MaintenanceConfig = z.infer<typeof configSchema>;
export type { BackupStoreConfig, DirectoryStoreConfig, S3StoreConfig } from './backup-store';
export type { HaproxyLoadBalancerConfig, LoadBalancerConfig, NginxLoadBalancerConfig, ServiceLoadBalancerConfig } from './load-balancer';

/** The nodes of a cluster on Docker, typed as such (for code that only serves Docker clusters: the demo, scripts). */
export function dockerNodesOf(cluster: Pick<ClusterConfig, 'nodes'>): DockerNodeConfig[] {
  return cluster.nodes.map((node) => {
    if ('deployment' in node) throw new Error(`node ${node.name} is a Kubernetes replica, not a Docker container`);
    return node;
  });
}

/** The storage of a cluster on Docker (a volume or host path), typed as such. */
export function dockerStorageOf(cluster: Pick<ClusterConfig, 'storage'>): DockerStorageConfig | undefined {
  const storage = cluster.storage;
  if (storage && 'pvc' in storage) throw new Error(`the storage is PVC ${storage.pvc}, not a Docker volume or path`);
  return storage;
}

import type Docker from 'dockerode';
import { createTransport } from 'nodemailer';
import { Pool } from 'pg';
import type { ActivityDeps } from '../activities';
import { connectDocker } from '../adapters/docker/connection';
import { HaproxyRuntime } from '../adapters/haproxy/runtime';
import { KubeApi } from '../adapters/kubernetes/api';
import { inClusterConnection, kubeconfigConnection } from '../adapters/kubernetes/connection';
import { clientSsl, type PostgresLogin } from '../adapters/postgres/login';
import { resolveDockerHostCredentials } from '../config/docker-hosts';
import { resolveDatabasePassword } from '../config/load';
import type { MaintenanceConfig } from '../config/schema';

export interface WorkerDeps extends ActivityDeps {
  /** Closes pools and transports so the process can exit. */
  close(): Promise<void>;
}

/** Builds the real components from configuration; clients are created lazily and cached. */
export function buildDeps(config: MaintenanceConfig, env: NodeJS.ProcessEnv = process.env): WorkerDeps {
  const dockers = new Map<string, Docker>();
  const pools = new Map<string, Pool>();
  const runtimes = new Map<string, HaproxyRuntime>();
  const kubes = new Map<string, KubeApi>();
  const smtp = config.smtp;
  // The one path from a cluster's configured secret to a password: the pools and the logins
  // (maintenance connection, pg_dump, pg_restore) both go through it.
  const login = (cluster: string): PostgresLogin => {
    const db = config.clusters[cluster]?.database;
    if (!db) throw new Error(`no database configured for cluster ${cluster}`);
    const { host, port, user, ssl, sslRootCert, database, maintenanceDatabase } = db;
    return { host, port, user, ssl, ...(sslRootCert ? { sslRootCert } : {}), database, maintenanceDatabase, password: resolveDatabasePassword(db, env) };
  };
  const mailer = smtp
    ? createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        requireTLS: smtp.requireTLS,
        ...(smtp.userEnv && smtp.passwordEnv ? { auth: { user: env[smtp.userEnv] ?? '', pass: env[smtp.passwordEnv] ?? '' } } : {}),
      })
    : undefined;

  return {
    config,
    ...(mailer ? { mailer } : {}),
    ...(env.TEMPORAL_UI_URL ? { temporalUiUrl: env.TEMPORAL_UI_URL } : {}),
    ...(env.PATH ? { searchPath: env.PATH } : {}),
    docker(dockerHost) {
      let docker = dockers.get(dockerHost);
      // Key files are read here, on the worker, once per host: never in workflow inputs.
      if (!docker) dockers.set(dockerHost, (docker = connectDocker(dockerHost, resolveDockerHostCredentials(dockerHost, config.dockerHosts?.[dockerHost], env))));
      return docker;
    },
    database(cluster) {
      let pool = pools.get(cluster);
      if (!pool) {
        const clusterLogin = login(cluster);
        const { host, port, database, user, password } = clusterLogin;
        pool = new Pool({ host, port, database, user, password, ssl: clientSsl(clusterLogin), max: 4, connectionTimeoutMillis: 5_000 });
        // An idle client losing its server must not crash the worker; the next query reconnects.
        pool.on('error', () => undefined);
        pools.set(cluster, pool);
      }
      return pool;
    },
    databaseLogin: login,
    haproxy(runtimeApi) {
      let runtime = runtimes.get(runtimeApi);
      if (!runtime) runtimes.set(runtimeApi, (runtime = new HaproxyRuntime(runtimeApi)));
      return runtime;
    },
    kubernetes(cluster) {
      let api = kubes.get(cluster);
      if (!api) {
        const settings = config.clusters[cluster]?.kubernetes;
        if (!settings) throw new Error(`cluster ${cluster} has no kubernetes section`);
        // Credentials are read here, on the worker: a kubeconfig file, else the pod's service account.
        api = new KubeApi(settings.kubeconfig ? kubeconfigConnection(settings.kubeconfig, settings.context) : inClusterConnection());
        kubes.set(cluster, api);
      }
      return api;
    },
    async close() {
      await Promise.all([...pools.values()].map((pool) => pool.end()));
      mailer?.close();
    },
  };
}

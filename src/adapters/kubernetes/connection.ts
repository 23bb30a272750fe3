import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * How the worker reaches a Kubernetes API server: read from a kubeconfig file (a context in it, or
 * its current one) or, with no file, from the pod's own service account ("in-cluster"). Only what
 * a worker needs: the server, its CA, and a client certificate or a bearer token. Secrets stay in
 * this object, which never leaves the worker.
 */
export interface KubeConnection {
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Read on each request when it comes from a file (projected tokens are rotated). */
  readonly token?: () => string;
  /** The namespace the kubeconfig's context names, if any. */
  readonly namespace?: string;
  /** Where the connection came from, for messages: "kubeconfig <file> context <name>" or "in-cluster". */
  readonly source: string;
}

export class KubeconfigError extends Error {
  override readonly name = 'KubeconfigError';
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  clusters?: { name: string; cluster: { server: string; 'certificate-authority'?: string; 'certificate-authority-data'?: string } }[];
  users?: {
    name: string;
    user: {
      token?: string;
      tokenFile?: string;
      'client-certificate'?: string;
      'client-certificate-data'?: string;
      'client-key'?: string;
      'client-key-data'?: string;
    };
  }[];
}

const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function fileOrData(base: string, file: string | undefined, data: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (file) return fs.readFileSync(path.resolve(base, file));
  return undefined;
}

/** Reads `file` (a kubeconfig) at `context` (its current context when absent). */
export function kubeconfigConnection(file: string, context?: string): KubeConnection {
  let config: KubeconfigFile;
  try {
    config = parse(fs.readFileSync(file, 'utf8')) as KubeconfigFile;
  } catch (error) {
    throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(error as Error).message}`);
  }
  const wanted = context ?? config['current-context'];
  const ctx = config.contexts?.find((candidate) => candidate.name === wanted);
  if (!ctx) throw new KubeconfigError(`kubeconfig ${file} has no context "${wanted ?? '(no current-context)'}"`);
  const cluster = config.clusters?.find((candidate) => candidate.name === ctx.context.cluster)?.cluster;
  const user = config.users?.find((candidate) => candidate.name === ctx.context.user)?.user;
  if (!cluster?.server) throw new KubeconfigError(`kubeconfig ${file}: context "${wanted}" names cluster "${ctx.context.cluster}", which it does not define`);
  if (!user) throw new KubeconfigError(`kubeconfig ${file}: context "${wanted}" names user "${ctx.context.user}", which it does not define`);
  const base = path.dirname(file);
  const tokenFile = user.tokenFile ? path.resolve(base, user.tokenFile) : undefined;
  const token = user.token;
  const ca = fileOrData(base, cluster['certificate-authority'], cluster['certificate-authority-data']);
  const cert = fileOrData(base, user['client-certificate'], user['client-certificate-data']);
  const key = fileOrData(base, user['client-key'], user['client-key-data']);
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(token ? { token: () => token } : tokenFile ? { token: () => fs.readFileSync(tokenFile, 'utf8').trim() } : {}),
    ...(ctx.context.namespace ? { namespace: ctx.context.namespace } : {}),
    source: `kubeconfig ${file} context ${wanted}`,
  };
}

/** The pod's own service account, as every in-cluster client reads it. */
export function inClusterConnection(dir = IN_CLUSTER_DIR, env: NodeJS.ProcessEnv = process.env): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new KubeconfigError('no kubeconfig given and KUBERNETES_SERVICE_HOST is not set: the worker is not running in a pod');
  const tokenFile = path.join(dir, 'token');
  if (!fs.existsSync(tokenFile)) throw new KubeconfigError(`no kubeconfig given and ${tokenFile} does not exist`);
  const namespaceFile = path.join(dir, 'namespace');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: fs.readFileSync(path.join(dir, 'ca.crt')),
    token: () => fs.readFileSync(tokenFile, 'utf8').trim(),
    ...(fs.existsSync(namespaceFile) ? { namespace: fs.readFileSync(namespaceFile, 'utf8').trim() } : {}),
    source: 'in-cluster service account',
  };
}

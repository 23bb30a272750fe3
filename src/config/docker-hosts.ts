import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config-error';

/**
 * How the worker reaches each Docker Engine that is not a local socket: the top-level
 * `dockerHosts:` map of the cluster definitions, keyed by the same URL the nodes, storage and
 * middleware name in `dockerHost`, so those entries stay one string each.
 *
 *   dockerHosts:
 *     tcp://10.0.0.5:2376:
 *       tls: { certPath: /etc/nocobase-maintenance/docker/10.0.0.5 }   # ca.pem, cert.pem, key.pem
 *     ssh://deploy@10.0.0.6:
 *       ssh: { keyFile: /etc/nocobase-maintenance/docker/id_ed25519, hostKey: "SHA256:…" }
 *     tcp://127.0.0.1:2375:
 *       insecure: true
 *
 * Only file paths are here; the worker reads the files (worker/deps.ts, adapters/docker/connection.ts).
 */

export const DOCKER_HOST_PATTERN = /^(unix:\/\/\/.+|(tcp|http|https):\/\/[^/]+\/?|ssh:\/\/[^@/]+@[^/]+\/?)$/;
export const DOCKER_HOST_EXAMPLES = 'unix:///var/run/docker.sock, tcp://10.0.0.5:2376 (TLS) or ssh://user@10.0.0.6[:port]';

const absolutePath = z.string().startsWith('/', 'expected an absolute path');

const tlsSchema = z.union(
  [
    z.strictObject({
      /** The CA that signed the Engine's certificate: the server is verified against it. */
      ca: absolutePath,
      /** The worker's client certificate and key (the Engine runs with --tlsverify). */
      cert: absolutePath,
      key: absolutePath,
    }),
    /** A directory in Docker's DOCKER_CERT_PATH layout: ca.pem, cert.pem, key.pem. */
    z.strictObject({ certPath: absolutePath }),
  ],
  { error: 'expected { ca, cert, key } (file paths) or { certPath } (a directory holding ca.pem, cert.pem and key.pem)' },
);

const sshSchema = z
  .strictObject({
    /** The private key file (unencrypted, readable by the worker). */
    keyFile: absolutePath.optional(),
    /** Authenticate through the worker's ssh-agent (its SSH_AUTH_SOCK). */
    agent: z.literal(true, { error: 'expected true (or leave it out and give keyFile)' }).optional(),
    /** The server's host key fingerprint as ssh prints it (`ssh-keygen -l -E sha256 -f <host key>.pub`). */
    hostKey: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'expected a fingerprint such as SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s').optional(),
  })
  .refine((ssh) => (ssh.keyFile === undefined) !== (ssh.agent === undefined), { message: 'expected exactly one of keyFile or agent: true' });

export const dockerHostSettingsSchema = z.strictObject({
  tls: tlsSchema.optional(),
  ssh: sshSchema.optional(),
  /**
   * tcp:// or http:// without TLS (anyone on the network can run containers as root there), or
   * ssh:// without a pinned host key. Only for a test bench or a network you trust.
   */
  insecure: z.boolean().default(false),
});

/** Optional: a configuration whose hosts are all unix sockets needs none. */
export const dockerHostsSchema = z.record(z.string(), dockerHostSettingsSchema).optional();

export type DockerHostSettings = z.infer<typeof dockerHostSettingsSchema>;
export type DockerHostsConfig = NonNullable<z.infer<typeof dockerHostsSchema>>;

export function dockerHostScheme(dockerHost: string): string {
  return dockerHost.slice(0, Math.max(0, dockerHost.indexOf('://')));
}

/** What is wrong with one `dockerHosts:` entry, as messages for its key path; [] when it is fine. */
export function dockerHostEntryProblems(dockerHost: string, settings: DockerHostSettings): string[] {
  if (!DOCKER_HOST_PATTERN.test(dockerHost)) return [`expected a Docker host URL as the key: ${DOCKER_HOST_EXAMPLES}`];
  const scheme = dockerHostScheme(dockerHost);
  const problems: string[] = [];
  if (scheme === 'unix') {
    if (settings.tls || settings.ssh || settings.insecure) problems.push('a unix socket takes no tls, ssh or insecure settings: remove this entry');
  } else if (scheme === 'ssh') {
    if (settings.tls) problems.push('tls is for tcp:// hosts; an ssh:// host is secured by SSH: remove tls');
    if (!settings.ssh) problems.push('expected ssh: { keyFile: /path/to/key } or ssh: { agent: true }');
    else if (!settings.ssh.hostKey && !settings.insecure) {
      problems.push('expected ssh.hostKey, the server\'s fingerprint (ssh-keygen -l -E sha256 -f /etc/ssh/ssh_host_ed25519_key.pub on the host), or insecure: true to skip the host key check');
    }
  } else {
    if (settings.ssh) problems.push(`ssh is for ssh:// hosts: write ssh://user@host, or remove ssh`);
    if (scheme === 'http' && settings.tls) problems.push('http:// is plain HTTP: write tcp:// (or https://) to use tls');
    if (!settings.tls && !settings.insecure) problems.push(plainTcpFix(dockerHost));
  }
  return problems;
}

/**
 * The problem of a `dockerHost` used by a node, storage or middleware, or undefined: a tcp://,
 * http(s):// or ssh:// host needs its `dockerHosts:` entry (a plain TCP Engine is refused unless
 * the entry says insecure: true).
 */
export function dockerHostUseProblem(dockerHost: string, dockerHosts: DockerHostsConfig = {}): string | undefined {
  const scheme = dockerHostScheme(dockerHost);
  if (scheme === 'unix' || dockerHosts[dockerHost] !== undefined) return undefined;
  if (scheme === 'ssh') return `${dockerHost} has no entry under dockerHosts: add dockerHosts."${dockerHost}" with ssh: { keyFile: …, hostKey: "SHA256:…" }`;
  return `${dockerHost} has no entry under dockerHosts: ${plainTcpFix(dockerHost)}`;
}

/** Every problem of the `dockerHosts:` map and of the clusters' use of it, with key paths. */
export function dockerHostsProblems(config: {
  dockerHosts?: DockerHostsConfig | undefined;
  clusters: Record<string, { nodes: ({ dockerHost: string } | { deployment: string })[]; middleware: { dockerHost: string }[]; storage?: { dockerHost: string } | { pvc: string } | undefined }>;
}): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  for (const [host, settings] of Object.entries(config.dockerHosts ?? {})) {
    for (const message of dockerHostEntryProblems(host, settings)) problems.push({ path: ['dockerHosts', host], message });
  }
  for (const [cluster, definition] of Object.entries(config.clusters)) {
    const uses: [(string | number)[], string][] = [
      ...definition.nodes.flatMap((node, i): [(string | number)[], string][] => ('dockerHost' in node ? [[['nodes', i, 'dockerHost'], node.dockerHost]] : [])),
      ...definition.middleware.map((entry, i): [(string | number)[], string] => [['middleware', i, 'dockerHost'], entry.dockerHost]),
      ...(definition.storage && 'dockerHost' in definition.storage ? [[['storage', 'dockerHost'], definition.storage.dockerHost] satisfies [(string | number)[], string]] : []),
    ];
    for (const [path, host] of uses) {
      const message = dockerHostUseProblem(host, config.dockerHosts);
      if (message) problems.push({ path: ['clusters', cluster, ...path], message });
    }
  }
  return problems;
}

function plainTcpFix(dockerHost: string): string {
  return `plain TCP to a Docker Engine is refused (anyone who reaches it is root on that host): add dockerHosts."${dockerHost}".tls with { certPath } or { ca, cert, key } (the Engine runs with --tlsverify), or insecure: true if you accept that`;
}

/** What the worker read for one host: file contents, never in workflow inputs or history. */
export interface DockerHostCredentials {
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
  ssh?: { privateKey?: Buffer; agent?: string; hostKey?: string };
  insecure: boolean;
}

/**
 * Reads the files a host's entry names (on the worker, like database passwords). A `unix://` host
 * or a host without an entry gets `{ insecure: false }`: the connection then refuses plain TCP.
 * Throws ConfigError naming the key and the file.
 */
export function resolveDockerHostCredentials(dockerHost: string, settings: DockerHostSettings | undefined, env: NodeJS.ProcessEnv = process.env): DockerHostCredentials {
  if (!settings) return { insecure: false };
  const key = `dockerHosts."${dockerHost}"`;
  const read = (setting: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(`${key}.${setting}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  };
  const credentials: DockerHostCredentials = { insecure: settings.insecure };
  const tls = settings.tls;
  if (tls) {
    credentials.tls =
      'certPath' in tls
        ? { ca: read('tls.certPath', join(tls.certPath, 'ca.pem')), cert: read('tls.certPath', join(tls.certPath, 'cert.pem')), key: read('tls.certPath', join(tls.certPath, 'key.pem')) }
        : { ca: read('tls.ca', tls.ca), cert: read('tls.cert', tls.cert), key: read('tls.key', tls.key) };
  }
  const ssh = settings.ssh;
  if (ssh) {
    const agent = ssh.agent ? env.SSH_AUTH_SOCK : undefined;
    if (ssh.agent && !agent) throw new ConfigError(`${key}.ssh.agent: the worker has no SSH_AUTH_SOCK (start it with an ssh-agent, or configure ssh.keyFile)`);
    credentials.ssh = {
      ...(ssh.keyFile ? { privateKey: read('ssh.keyFile', ssh.keyFile) } : {}),
      ...(agent ? { agent } : {}),
      ...(ssh.hostKey ? { hostKey: ssh.hostKey } : {}),
    };
  }
  return credentials;
}

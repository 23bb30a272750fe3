import Docker from 'dockerode';
import { createHash } from 'node:crypto';
import type { DockerHostCredentials } from '../../config/docker-hosts';

/**
 * The one place a Docker client is built: from a node's `dockerHost` URL and the credentials the
 * worker read for it (config/docker-hosts.ts), with every connection option explicit.
 *
 * Why explicit: docker-modem starts from the worker's environment (DOCKER_HOST, DOCKER_TLS_VERIFY,
 * DOCKER_CERT_PATH, DOCKER_PATH_PREFIX, DOCKER_CLIENT_TIMEOUT, and SSH_AUTH_SOCK for an ssh
 * DOCKER_HOST) and lays the given options over it. A `unix://` node given `{ socketPath }` then
 * talks to the DOCKER_HOST's `host` (the host wins over socketPath), and a bad DOCKER_CERT_PATH
 * makes every client throw. So the modem is built with those variables hidden and options that
 * leave nothing to fill in.
 */

/** Variables docker-modem's constructor reads (node_modules/docker-modem/lib/modem.js, defaultOpts). */
const AMBIENT_DOCKER_ENV = ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_PATH_PREFIX', 'DOCKER_CLIENT_TIMEOUT'] as const;

/** A Docker host refused the worker, or the worker refused it: names the host and the setting to look at. */
export class DockerConnectionError extends Error {
  override name = 'DockerConnectionError';

  constructor(
    message: string,
    readonly dockerHost: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

/** dockerode's options for one host; throws for a plain TCP host without `insecure` credentials. */
export function dockerConnectionOptions(dockerHost: string, credentials: DockerHostCredentials = { insecure: false }): Docker.DockerOptions {
  const url = new URL(dockerHost);
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme === 'unix') return { socketPath: decodeURIComponent(url.pathname) };
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (scheme === 'ssh') {
    const ssh = credentials.ssh;
    if (!ssh) throw new DockerConnectionError(`${dockerHost}: no ssh key or agent configured (dockerHosts."${dockerHost}".ssh)`, dockerHost, undefined);
    return {
      protocol: 'ssh',
      host,
      port: Number(url.port || 22),
      username: decodeURIComponent(url.username),
      sshOptions: {
        ...(ssh.privateKey ? { privateKey: ssh.privateKey } : {}),
        ...(ssh.agent ? { agent: ssh.agent } : {}),
        ...(ssh.hostKey ? { hostVerifier: (key: Buffer) => sshFingerprint(key) === ssh.hostKey } : {}),
        readyTimeout: 20_000,
      },
    };
  }
  if (credentials.tls) {
    return { protocol: 'https', host, port: Number(url.port || 2376), ...credentials.tls };
  }
  if (!credentials.insecure) {
    throw new DockerConnectionError(`${dockerHost}: plain TCP to a Docker Engine is refused; configure dockerHosts."${dockerHost}".tls (or insecure: true)`, dockerHost, undefined);
  }
  const protocol = scheme === 'https' ? 'https' : 'http';
  return { protocol, host, port: Number(url.port || (protocol === 'https' ? 2376 : 2375)) };
}

/** A dockerode client for `dockerHost`; the worker's DOCKER_* environment plays no part. */
export function connectDocker(dockerHost: string, credentials?: DockerHostCredentials): Docker {
  const options = dockerConnectionOptions(dockerHost, credentials);
  const docker = withoutAmbientDockerEnv(() => new Docker(options));
  explainConnectionErrors(docker, dockerHost);
  return docker;
}

/** SHA256:<base64, unpadded> of an SSH public key blob, as `ssh-keygen -l -E sha256` prints it. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

// Synchronous from hiding to restoring, so no other code of this process runs in between
// (worker threads have their own copy of the environment).
function withoutAmbientDockerEnv<T>(build: () => T): T {
  const saved = AMBIENT_DOCKER_ENV.map((name) => [name, process.env[name]] as const);
  for (const name of AMBIENT_DOCKER_ENV) delete process.env[name];
  try {
    return build();
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}

type DialCallback = (error: unknown, result?: unknown) => void;

/**
 * Every request goes through `modem.dial`; a failure to connect is replaced there by a
 * DockerConnectionError that says which host and which setting (the Engine's own HTTP errors,
 * with their statusCode, pass through untouched).
 */
function explainConnectionErrors(docker: Docker, dockerHost: string): void {
  const modem = docker.modem as unknown as { dial: (options: unknown, callback: DialCallback) => void };
  const dial = modem.dial.bind(modem);
  modem.dial = (options, callback) => dial(options, (error, result) => callback(error ? explainConnectionError(dockerHost, error) : error, result));
}

const SERVER_NOT_TRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
]);

/** The error as it should read in an activity failure; the original stays as `cause`. */
export function explainConnectionError(dockerHost: string, error: unknown): unknown {
  if (error instanceof DockerConnectionError || typeof (error as { statusCode?: unknown } | null)?.statusCode === 'number') return error;
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const text = error instanceof Error ? error.message : String(error);
  const setting = `dockerHosts."${dockerHost}"`;
  if (SERVER_NOT_TRUSTED.has(code)) {
    return new DockerConnectionError(`${dockerHost}: the Engine's TLS certificate is not trusted (${code}: ${text}); check ${setting}.tls ca (the CA that signed the Engine's certificate) and that the certificate names this host`, dockerHost, error);
  }
  if (/alert (certificate required|bad certificate|unknown ca|certificate unknown)|ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA)/i.test(`${code} ${text}`)) {
    return new DockerConnectionError(`${dockerHost}: the Engine refused the worker's client certificate (${text.trim()}); check ${setting}.tls cert and key (signed by the CA the Engine's --tlscacert names)`, dockerHost, error);
  }
  if (/Host denied \(verification failed\)/.test(text)) {
    return new DockerConnectionError(`${dockerHost}: the SSH server's host key does not match ${setting}.ssh.hostKey (possible man-in-the-middle, or the host was reinstalled)`, dockerHost, error);
  }
  if (/All configured authentication methods failed/.test(text)) {
    return new DockerConnectionError(`${dockerHost}: the SSH server refused the worker's key; check ${setting}.ssh (keyFile or agent) and the user's authorized_keys`, dockerHost, error);
  }
  return error;
}

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The stack's TLS and SSH Docker hosts (scripts/stack/remotedocker.sh), as .stack/env names them. */
export interface RemoteDockerEnv {
  /** tcp://127.0.0.1:<port>, the second dockerd with --tlsverify. */
  tlsHost: string;
  /** The worker's client certificates for it, in DOCKER_CERT_PATH layout. */
  tlsCerts: string;
  /** unix:// socket of the same second dockerd, for test set-up and clean-up only. */
  tlsSocket: string;
  /** ssh://root@127.0.0.1:<port>, reaching the stack's main dockerd. */
  sshHost: string;
  sshKey: string;
  sshHostKey: string;
}

const NAMES = {
  tlsHost: 'STACK_TLS_DOCKER_HOST',
  tlsCerts: 'STACK_TLS_DOCKER_CERTS',
  tlsSocket: 'STACK_TLS_DOCKER_SOCKET',
  sshHost: 'STACK_SSH_DOCKER_HOST',
  sshKey: 'STACK_SSH_DOCKER_KEY',
  sshHostKey: 'STACK_SSH_DOCKER_HOST_KEY',
} as const;

export function remoteDockerEnv(env: NodeJS.ProcessEnv = process.env): RemoteDockerEnv {
  const missing = Object.values(NAMES).filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`the stack's TLS/SSH Docker hosts are not in the environment (missing ${missing.join(', ')}): run \`npm run stack:up && source .stack/env\``);
  return Object.fromEntries(Object.entries(NAMES).map(([key, name]) => [key, env[name]!])) as unknown as RemoteDockerEnv;
}

/** The `dockerHosts:` entries of the stack's two hosts, as YAML lines at the top level. */
export function dockerHostsYaml(remote: RemoteDockerEnv): string {
  return [
    'dockerHosts:',
    `  "${remote.tlsHost}":`,
    `    tls: { certPath: ${remote.tlsCerts} }`,
    `  "${remote.sshHost}":`,
    `    ssh: { keyFile: ${remote.sshKey}, hostKey: "${remote.sshHostKey}" }`,
    '',
  ].join('\n');
}

/**
 * A CA the Engine does not trust, and a client certificate it signed, made with openssl in a
 * temporary directory: `<dir>/ca.pem`, `<dir>/client/{cert,key}.pem`.
 */
export function foreignCertificates(): { dir: string; ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'foreign-ca-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=a CA nobody trusts', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  mkdirSync(join(dir, 'client'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', '/CN=intruder', '-keyout', 'client/key.pem', '-out', 'client/req.csr');
  openssl('x509', '-req', '-sha256', '-days', '2', '-in', 'client/req.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'client/cert.pem');
  return { dir, ca: join(dir, 'ca.pem'), cert: join(dir, 'client', 'cert.pem'), key: join(dir, 'client', 'key.pem') };
}

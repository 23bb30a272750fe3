import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dockerConnectionOptions, DockerConnectionError, sshFingerprint } from '../../src/adapters/docker/connection';
import type { ConfigError } from '../../src/config/config-error';
import { resolveDockerHostCredentials } from '../../src/config/docker-hosts';
import { assertSecretsResolvable, parseConfig } from '../../src/config/load';
import { configProblems } from '../support/config-problems';
import { dockerNodesOf } from '../../src/config/schema';

const FINGERPRINT = 'SHA256:QNscb/W1GUzoqsVka1mvqe1kMJ9UG0doWv9/bblbqb8';

/** A cluster on `node2Host` (node-1 on a socket), optionally storage and middleware on `extraHost`. */
function text(node2Host: string, dockerHosts = '', extraHost?: string): string {
  return `${dockerHosts}clusters:
  prod:
    nodes:
      - { name: node-1, dockerHost: "unix:///run/docker.sock", container: prod-1, healthUrl: "http://10.0.0.1:13000/api/__health_check" }
      - { name: node-2, dockerHost: "${node2Host}", container: prod-2, healthUrl: "http://10.0.0.2:13000/api/__health_check" }
    database: { host: db, database: nocobase, user: nocobase, passwordEnv: PROD_DB_PASSWORD }
    loadBalancer: { runtimeApi: "unix:///run/haproxy/admin.sock", backend: prod_nodes, maintenanceMap: /etc/haproxy/maintenance.map }
    backup: { directory: /var/backups/nocobase }
${extraHost ? `    storage: { dockerHost: "${extraHost}", volume: v }\n    middleware: [{ name: redis, dockerHost: "${extraHost}", container: redis }]\n` : ''}`;
}

const problemsOf = (text: string): string => configProblems(text).join('\n');

describe('Docker hosts in the cluster configuration', () => {
  it('accepts TLS hosts (certPath or ca/cert/key), SSH hosts with a key file or the agent and a pinned host key, and plain TCP said to be insecure', () => {
    const hosts = `dockerHosts:
  "tcp://10.0.0.2:2376": { tls: { certPath: /etc/docker-certs/a } }
  "https://10.0.0.3": { tls: { ca: /c/ca.pem, cert: /c/cert.pem, key: /c/key.pem } }
  "ssh://deploy@10.0.0.4:2200": { ssh: { keyFile: /k/id_ed25519, hostKey: "${FINGERPRINT}" } }
  "ssh://deploy@10.0.0.5": { ssh: { agent: true, hostKey: "${FINGERPRINT}" } }
  "tcp://10.0.0.6:2375": { insecure: true }
`;
    for (const host of ['tcp://10.0.0.2:2376', 'https://10.0.0.3', 'ssh://deploy@10.0.0.4:2200', 'ssh://deploy@10.0.0.5', 'tcp://10.0.0.6:2375']) {
      const config = parseConfig(text(host, hosts, host), 'clusters.yaml');
      assert.equal(dockerNodesOf(config.clusters.prod!)[1]!.dockerHost, host);
    }
  });

  it('refuses plain TCP without an entry, naming the file, the key and both fixes', () => {
    for (const host of ['tcp://10.0.0.2:2375', 'http://10.0.0.2:2375', 'https://10.0.0.2']) {
      assert.match(problemsOf(text(host)), new RegExp(`^clusters\\.yaml: clusters\\.prod\\.nodes\\[1\\]\\.dockerHost: ${host.replace(/\./g, '\\.')} has no entry under dockerHosts: plain TCP to a Docker Engine is refused .*add dockerHosts\\."${host.replace(/\./g, '\\.')}"\\.tls with \\{ certPath \\} or \\{ ca, cert, key \\}.*or insecure: true`));
    }
    assert.match(problemsOf(text('tcp://10.0.0.2:2375', 'dockerHosts:\n  "tcp://10.0.0.2:2375": {}\n')), /dockerHosts\.tcp:\/\/10\.0\.0\.2:2375: plain TCP to a Docker Engine is refused/);
  });

  it('checks the storage and middleware hosts as well as the nodes', () => {
    const problems = problemsOf(text('unix:///run/docker.sock', '', 'tcp://10.0.0.9:2375'));
    assert.match(problems, /clusters\.prod\.storage\.dockerHost: tcp:\/\/10\.0\.0\.9:2375 has no entry/);
    assert.match(problems, /clusters\.prod\.middleware\[0\]\.dockerHost: tcp:\/\/10\.0\.0\.9:2375 has no entry/);
  });

  it('refuses SSH hosts without a user, without credentials, without a pinned host key (unless insecure), or with both a key file and the agent', () => {
    assert.match(problemsOf(text('ssh://10.0.0.4')), /nodes\[1\]\.dockerHost: expected a Docker host such as .*ssh:\/\/user@10\.0\.0\.6/);
    assert.match(problemsOf(text('ssh://deploy@10.0.0.4')), /nodes\[1\]\.dockerHost: ssh:\/\/deploy@10\.0\.0\.4 has no entry under dockerHosts: add dockerHosts\."ssh:\/\/deploy@10\.0\.0\.4" with ssh/);
    const entry = (settings: string) => text('ssh://deploy@10.0.0.4', `dockerHosts:\n  "ssh://deploy@10.0.0.4": ${settings}\n`);
    assert.match(problemsOf(entry('{ ssh: { keyFile: /k/id } }')), /dockerHosts\.ssh:\/\/deploy@10\.0\.0\.4: expected ssh\.hostKey, the server's fingerprint .*or insecure: true/);
    parseConfig(entry('{ ssh: { keyFile: /k/id }, insecure: true }'), 'clusters.yaml');
    assert.match(problemsOf(entry(`{ ssh: { keyFile: /k/id, agent: true, hostKey: "${FINGERPRINT}" } }`)), /expected exactly one of keyFile or agent: true/);
    assert.match(problemsOf(entry('{ ssh: { keyFile: /k/id, hostKey: "aa:bb" } }')), /hostKey: expected a fingerprint such as SHA256:/);
    assert.match(problemsOf(entry('{ tls: { certPath: /c }, ssh: { agent: true }, insecure: true }')), /tls is for tcp:\/\/ hosts/);
  });

  it('refuses contradictions and misspellings in an entry', () => {
    assert.match(problemsOf(text('http://10.0.0.2:2375', 'dockerHosts:\n  "http://10.0.0.2:2375": { tls: { certPath: /c } }\n')), /http:\/\/ is plain HTTP: write tcp:\/\/ \(or https:\/\/\) to use tls/);
    assert.match(problemsOf(text('tcp://10.0.0.2:2376', 'dockerHosts:\n  "tcp://10.0.0.2:2376": { tls: { certpath: /c } }\n')), /dockerHosts\.tcp:\/\/10\.0\.0\.2:2376\.tls: expected \{ ca, cert, key \} \(file paths\) or \{ certPath \}/);
    assert.match(problemsOf(text('tcp://10.0.0.2:2376', 'dockerHosts:\n  "tcp://10.0.0.2:2376": { tls: { ca: /c/ca.pem } }\n')), /dockerHosts\.tcp:\/\/10\.0\.0\.2:2376\.tls: expected \{ ca, cert, key \}/);
    assert.match(problemsOf(text('unix:///run/docker.sock', 'dockerHosts:\n  "unix:///run/docker.sock": { insecure: true }\n')), /a unix socket takes no tls, ssh or insecure settings/);
    assert.match(problemsOf(text('unix:///run/docker.sock', 'dockerHosts:\n  "10.0.0.2:2376": { insecure: true }\n')), /dockerHosts\.10\.0\.0\.2:2376: expected a Docker host URL as the key/);
  });

  it('reads the key files on the worker, and the start check names the dockerHosts key of a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docker-certs-'));
    for (const file of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, file), `${file} contents`);
    const credentials = resolveDockerHostCredentials('tcp://10.0.0.2:2376', { insecure: false, tls: { certPath: dir } });
    assert.equal(credentials.tls?.key.toString(), 'key.pem contents');
    const options = dockerConnectionOptions('tcp://10.0.0.2', credentials);
    assert.deepEqual({ ...options, ca: String(options.ca) }, { protocol: 'https', host: '10.0.0.2', port: 2376, ca: 'ca.pem contents', cert: credentials.tls?.cert, key: credentials.tls?.key });

    const config = parseConfig(text('tcp://10.0.0.2:2376', `dockerHosts:\n  "tcp://10.0.0.2:2376": { tls: { certPath: ${join(dir, 'gone')} } }\n`), 'clusters.yaml');
    assert.throws(() => assertSecretsResolvable(config, { PROD_DB_PASSWORD: 'x' }), (error: ConfigError) =>
      error.problems.length === 1 && /^dockerHosts\."tcp:\/\/10\.0\.0\.2:2376"\.tls\.certPath: cannot read .*gone\/ca\.pem \(ENOENT\)$/.test(error.problems[0]!));
    assert.throws(() => resolveDockerHostCredentials('ssh://u@h', { insecure: true, ssh: { agent: true } }, {}), /ssh\.agent: the worker has no SSH_AUTH_SOCK/);
  });

  it('builds explicit connection options: a socket path alone for unix://, and no client at all for plain TCP not said to be insecure', () => {
    assert.deepEqual(dockerConnectionOptions('unix:///var/run/docker.sock'), { socketPath: '/var/run/docker.sock' });
    assert.throws(() => dockerConnectionOptions('tcp://10.0.0.2:2375'), (error: Error) => error instanceof DockerConnectionError && /plain TCP to a Docker Engine is refused/.test(error.message));
    assert.deepEqual(dockerConnectionOptions('tcp://10.0.0.2', { insecure: true }), { protocol: 'http', host: '10.0.0.2', port: 2375 });
    const ssh = dockerConnectionOptions('ssh://deploy@10.0.0.4:2200', { insecure: false, ssh: { agent: '/tmp/agent.sock', hostKey: FINGERPRINT } });
    assert.equal(ssh.protocol, 'ssh');
    assert.equal(ssh.username, 'deploy');
    assert.equal(ssh.port, 2200);
    assert.equal(ssh.sshOptions?.agent, '/tmp/agent.sock');
  });

  it("computes an SSH host key's fingerprint as ssh-keygen prints it", () => {
    const blob = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIAdV1Q4STLiBOjZcUFz6gEb0s7asJOvqSwk8Q8NY73wE', 'base64');
    assert.equal(sshFingerprint(blob), FINGERPRINT);
  });
});

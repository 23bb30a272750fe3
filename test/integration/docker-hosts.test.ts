import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { connectDocker, dockerConnectionOptions, DockerConnectionError, explainConnectionError } from '../../src/adapters/docker/connection';
import { containersNamedWithPrefix } from '../../src/adapters/docker/container-list';
import { removeContainer, startContainer, stopContainer } from '../../src/adapters/docker/containers';
import { execInContainer } from '../../src/adapters/docker/exec';
import { ensureImage } from '../../src/adapters/docker/image-pull';
import { ConfigError } from '../../src/config/config-error';
import { resolveDockerHostCredentials } from '../../src/config/docker-hosts';
import { parseConfig } from '../../src/config/load';
import { buildDeps } from '../../src/worker/deps';
import { dockerHostsYaml, foreignCertificates, remoteDockerEnv, type RemoteDockerEnv } from '../support/remote-docker';
import { stackEnv } from '../support/stack';
import { configProblems } from '../support/config-problems';

/** A one-cluster configuration whose nodes live on `hosts`, with `top` (dockerHosts…) above it. */
function configText(hosts: string[], top: string): string {
  const nodes = hosts.map((host, i) => `      - { name: node-${i + 1}, dockerHost: "${host}", container: c${i + 1}, healthUrl: "http://127.0.0.1:1/api/__health_check" }`);
  return `${top}clusters:
  c:
    nodes:
${nodes.join('\n')}
    database: { host: 127.0.0.1, database: d, user: u, passwordEnv: UNUSED }
    loadBalancer: { runtimeApi: "unix:///nowhere.sock", backend: b, maintenanceMap: /nowhere.map }
    backup: { directory: /tmp }
`;
}

const problemsOf = (text: string): string => configProblems(text).join('\n');

/** Where an Engine keeps its data: tells the stack's two dockerds apart. */
async function rootDir(docker: Docker): Promise<string> {
  return ((await docker.info()) as { DockerRootDir: string }).DockerRootDir;
}

/** The adapter's container operations, hijacked exec included, on one host; cleans up after itself. */
async function exerciseHost(docker: Docker, dockerHost: string, image: string): Promise<string> {
  const name = `docker-hosts-probe-${process.pid}`;
  await removeContainer(docker, name, true);
  await ensureImage(docker, image, { dockerHost });
  await docker.createContainer({ name, Image: image, Cmd: ['sleep', '300'], Labels: { 'nocobase-maintenance.test': 'docker-hosts' } });
  try {
    await startContainer(docker, name);
    const result = await execInContainer(docker, name, ['sh', '-c', 'echo "hello from $(hostname)"']);
    assert.equal(result.exitCode, 0);
    await stopContainer(docker, name, 1);
    return result.output.trim();
  } finally {
    await removeContainer(docker, name, true);
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  return assert.fail('expected the request to be refused');
}

describe('Docker hosts over TLS and SSH, against a real second dockerd with --tlsverify and a real sshd', () => {
  let remote: RemoteDockerEnv;
  let mainSocket: string;
  let toolbox: string;
  let foreign: ReturnType<typeof foreignCertificates>;
  let scratch: string;
  before(() => {
    const env = stackEnv();
    remote = remoteDockerEnv();
    mainSocket = env.DOCKER_HOST;
    toolbox = process.env.TOOLBOX_IMAGE ?? assert.fail('TOOLBOX_IMAGE is not in the environment');
    foreign = foreignCertificates();
    scratch = mkdtempSync(join(tmpdir(), 'docker-hosts-'));
  });
  after(() => {
    rmSync(foreign.dir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('runs the adapter operations on the TLS Engine with the stack certificates, and the worker verifies the Engine', async () => {
    const deps = buildDeps(parseConfig(configText([remote.tlsHost], dockerHostsYaml(remote)), 'clusters.yaml'));
    const docker = deps.docker(remote.tlsHost);
    assert.match(await rootDir(docker), /remotedocker\/data$/, 'the second dockerd, not the main one');
    assert.match(await exerciseHost(docker, remote.tlsHost, toolbox), /^hello from /);
    await deps.close();
  });

  it('refuses plain tcp:// at config load, naming the key and the fix, unless the host says insecure: true', async () => {
    const problems = problemsOf(configText([mainSocket, remote.tlsHost], ''));
    assert.match(problems, /^clusters\.yaml: clusters\.c\.nodes\[1\]\.dockerHost: tcp:\/\/127\.0\.0\.1:\d+ has no entry under dockerHosts: plain TCP to a Docker Engine is refused .*tls with \{ certPath \} or \{ ca, cert, key \}.*insecure: true/);
    const allowed = parseConfig(configText([remote.tlsHost], `dockerHosts:\n  "${remote.tlsHost}": { insecure: true }\n`), 'clusters.yaml');
    // Allowed by the config, and still refused by an Engine that requires TLS: insecure only
    // lifts the worker's own refusal.
    const plain = buildDeps(allowed).docker(remote.tlsHost);
    const error = await rejection(plain.ping());
    assert.match(error.message, /HTTP request to an HTTPS server/);
  });

  it('refuses an Engine whose certificate the configured CA did not sign, with an error naming the tls ca setting', async () => {
    const credentials = resolveDockerHostCredentials(remote.tlsHost, { insecure: false, tls: { ca: foreign.ca, cert: join(remote.tlsCerts, 'cert.pem'), key: join(remote.tlsCerts, 'key.pem') } });
    const error = await rejection(connectDocker(remote.tlsHost, credentials).ping());
    assert.ok(error instanceof DockerConnectionError, String(error));
    assert.match(error.message, /^tcp:\/\/127\.0\.0\.1:\d+: the Engine's TLS certificate is not trusted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/);
    assert.match(error.message, /dockerHosts\."tcp:\/\/127\.0\.0\.1:\d+"\.tls ca/);
  });

  it('is refused by the Engine with a client certificate from another CA, and without any client certificate', async () => {
    const stranger = resolveDockerHostCredentials(remote.tlsHost, { insecure: false, tls: { ca: join(remote.tlsCerts, 'ca.pem'), cert: foreign.cert, key: foreign.key } });
    const refused = await rejection(connectDocker(remote.tlsHost, stranger).ping());
    assert.ok(refused instanceof DockerConnectionError, String(refused));
    assert.match(refused.message, /the Engine refused the worker's client certificate .*tls cert and key/);

    // Without a client certificate at all (not configurable here: built by hand, as any client could).
    const serverCheckOnly = dockerConnectionOptions(remote.tlsHost, resolveDockerHostCredentials(remote.tlsHost, { insecure: false, tls: { certPath: remote.tlsCerts } }));
    delete serverCheckOnly.cert;
    delete serverCheckOnly.key;
    const anonymous = await rejection(new Docker(serverCheckOnly).ping());
    assert.match(String((explainConnectionError(remote.tlsHost, anonymous) as Error).message), /refused the worker's client certificate/, String(anonymous));
  });

  it('runs the adapter operations over SSH (docker system dial-stdio on the remote side) on the main Engine', async () => {
    const deps = buildDeps(parseConfig(configText([remote.sshHost], dockerHostsYaml(remote)), 'clusters.yaml'));
    const docker = deps.docker(remote.sshHost);
    assert.equal(await rootDir(docker), await rootDir(connectDocker(mainSocket)), 'the sshd user reaches the stack main dockerd');
    const standins = await containersNamedWithPrefix(docker, 'standin-node-');
    for (const name of ['standin-node-1', 'standin-node-2', 'standin-node-3']) assert.ok(standins.some((c) => c.name === name), `${name} listed through SSH`);
    assert.match(await exerciseHost(docker, remote.sshHost, toolbox), /^hello from /);
    await deps.close();
  });

  it('refuses an SSH server whose host key is not the pinned one, and is refused with a key the server does not know', async () => {
    const wrongHostKey = resolveDockerHostCredentials(remote.sshHost, { insecure: false, ssh: { keyFile: remote.sshKey, hostKey: `SHA256:${'A'.repeat(43)}` } });
    const spoofed = await rejection(connectDocker(remote.sshHost, wrongHostKey).ping());
    assert.ok(spoofed instanceof DockerConnectionError, String(spoofed));
    assert.match(spoofed.message, /the SSH server's host key does not match dockerHosts\."ssh:\/\/root@127\.0\.0\.1:\d+"\.ssh\.hostKey/);

    const strangerKey = join(scratch, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', strangerKey]);
    const unknown = resolveDockerHostCredentials(remote.sshHost, { insecure: false, ssh: { keyFile: strangerKey, hostKey: remote.sshHostKey } });
    const refused = await rejection(connectDocker(remote.sshHost, unknown).ping());
    assert.ok(refused instanceof DockerConnectionError, String(refused));
    assert.match(refused.message, /the SSH server refused the worker's key/);
  });

  it("sends a configured node's commands where the config says, whatever DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH the worker has", async () => {
    const mainRoot = await rootDir(connectDocker(mainSocket));
    const socketPath = new URL(mainSocket).pathname;
    const saved = { DOCKER_HOST: process.env.DOCKER_HOST, DOCKER_TLS_VERIFY: process.env.DOCKER_TLS_VERIFY, DOCKER_CERT_PATH: process.env.DOCKER_CERT_PATH };
    try {
      // An ambient environment that works, pointing at the OTHER Engine: the hazard is silent.
      Object.assign(process.env, { DOCKER_HOST: remote.tlsHost, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: remote.tlsCerts });
      assert.match(await rootDir(new Docker({ socketPath })), /remotedocker\/data$/, 'control: plain dockerode given a socket goes to DOCKER_HOST');
      const config = parseConfig(configText([mainSocket, remote.sshHost], dockerHostsYaml(remote)), 'clusters.yaml');
      const deps = buildDeps(config);
      assert.equal(await rootDir(deps.docker(mainSocket)), mainRoot);
      assert.equal(await rootDir(deps.docker(remote.sshHost)), mainRoot);

      // An ambient environment that is broken: plain dockerode cannot even be built.
      Object.assign(process.env, { DOCKER_HOST: 'tcp://127.0.0.1:1', DOCKER_CERT_PATH: join(scratch, 'nowhere') });
      assert.throws(() => new Docker({ socketPath }), /ENOENT/, 'control: docker-modem reads DOCKER_CERT_PATH');
      assert.equal(await rootDir(buildDeps(config).docker(mainSocket)), mainRoot);
      assert.equal(process.env.DOCKER_HOST, 'tcp://127.0.0.1:1', 'the environment is left as it was');
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('names the dockerHosts key and the file when a key file cannot be read', () => {
    assert.throws(
      () => resolveDockerHostCredentials(remote.tlsHost, { insecure: false, tls: { certPath: join(scratch, 'missing') } }),
      (error: Error) => error instanceof ConfigError && /^dockerHosts\."tcp:\/\/127\.0\.0\.1:\d+"\.tls\.certPath: cannot read .*missing\/ca\.pem \(ENOENT\)$/.test(error.message),
    );
    assert.ok(readFileSync(remote.sshKey).length > 0);
  });
});

// Builds the images of the NocoBase stand-in (a TEST FIXTURE, see
// test/fixtures/nocobase-standin/README.md) and the storage activities' tool image
// (`nocobase-maintenance-toolbox:busybox`), and pushes them to the local registry.
//
//   DOCKER_HOST=unix:///…/docker.sock REGISTRY=127.0.0.1:5000 npx tsx scripts/stack/build-images.ts [--force]
//
// Nothing can be pulled from the internet here, so the base image is made FROM scratch out of
// the host's own node binary and the shared libraries it links, and the toolbox out of Debian's
// busybox-static (scripts/stack/demo.sh installs it). Local tags are removed after the
// push so that the maintenance workflows really pull from the registry, as in production.
// Re-runs are cheap: a content hash of the fixture, the node binary and this script (for the
// toolbox: the busybox binary and this script) is stored as an image label, and a build is
// skipped when the registry already serves that hash.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';

const FIXTURE_DIR = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'nocobase-standin');
const REPOSITORY = 'nocobase-standin';
const HASH_LABEL = 'nocobase-maintenance.standin-hash';
const FIXTURE_LABEL = 'nocobase-maintenance.test-fixture';
const TOOLBOX_REPOSITORY = 'nocobase-maintenance-toolbox';
const TOOLBOX_TAG = 'busybox';
const BUSYBOX = process.env.BUSYBOX_STATIC || '/bin/busybox';

export interface StandinImages {
  v1: string;
  v2: string;
  broken: string;
}

interface ImageVariant {
  tag: string;
  version: string;
  brokenMigration: boolean;
}

const VARIANTS: readonly ImageVariant[] = [
  { tag: '1.6.0', version: '1.6.0', brokenMigration: false },
  { tag: '1.7.0', version: '1.7.0', brokenMigration: false },
  { tag: '1.8.0-broken', version: '1.8.0', brokenMigration: true },
];

export function toolboxImage(registry: string): string {
  return `${registry}/${TOOLBOX_REPOSITORY}:${TOOLBOX_TAG}`;
}

export function standinImages(registry: string): StandinImages {
  return {
    v1: `${registry}/${REPOSITORY}:1.6.0`,
    v2: `${registry}/${REPOSITORY}:1.7.0`,
    broken: `${registry}/${REPOSITORY}:1.8.0-broken`,
  };
}

// DOCKER_HOST is parsed here rather than left to docker-modem so a missing or odd value fails
// with a message that names the variable.
export function dockerFromHost(dockerHost: string | undefined): Docker {
  if (!dockerHost) throw new Error('DOCKER_HOST is not set (e.g. unix:///path/to/docker.sock)');
  if (dockerHost.startsWith('unix://')) return new Docker({ socketPath: dockerHost.slice('unix://'.length) });
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  if (url.protocol !== 'http:') throw new Error(`DOCKER_HOST must be unix:// or tcp://, got ${dockerHost}`);
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
}

// Follows a build/push/pull stream to its end; Docker reports failures inside the stream with a
// 200 status, so an `error` entry must be turned into a rejection here or it is lost.
export function followDockerStream(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onLine: (line: string) => void = () => undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let streamError: string | undefined;
    docker.modem.followProgress(
      stream,
      (err: Error | null) => {
        if (err) reject(err);
        else if (streamError) reject(new Error(streamError));
        else resolve();
      },
      (event: { error?: string; errorDetail?: { message?: string }; stream?: string; status?: string; id?: string }) => {
        if (event.error || event.errorDetail) streamError ??= event.errorDetail?.message ?? event.error;
        const text = event.stream ?? (event.status ? `${event.id ? `${event.id}: ` : ''}${event.status}` : '');
        if (text.trim()) onLine(text.trimEnd());
      },
    );
  });
}

function listFiles(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules') return [];
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
  }).sort();
}

function contentHash(nodeBinary: string): string {
  const hash = createHash('sha256');
  for (const file of listFiles(FIXTURE_DIR)) {
    hash.update(`${file}\0`).update(fs.readFileSync(path.join(FIXTURE_DIR, file))).update('\0');
  }
  hash.update(execFileSync(nodeBinary, ['--version'], { encoding: 'utf8' }));
  hash.update(fs.readFileSync(__filename));
  return hash.digest('hex').slice(0, 16);
}

async function registryHash(registry: string, tag: string, repository = REPOSITORY): Promise<string | undefined> {
  const base = `http://${registry}/v2/${repository}`;
  const manifest = await fetch(`${base}/manifests/${tag}`, {
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  if (manifest.status === 404) return undefined;
  if (!manifest.ok) throw new Error(`registry ${registry}: manifest ${tag}: HTTP ${manifest.status}`);
  const { config } = (await manifest.json()) as { config?: { digest?: string } };
  if (!config?.digest) return undefined;
  const blob = await fetch(`${base}/blobs/${config.digest}`);
  if (!blob.ok) throw new Error(`registry ${registry}: config blob of ${tag}: HTTP ${blob.status}`);
  const image = (await blob.json()) as { config?: { Labels?: Record<string, string> } };
  return image.config?.Labels?.[HASH_LABEL];
}

function tarContext(dir: string): string {
  const file = `${dir}.tar`;
  execFileSync('tar', ['-C', dir, '--owner=0', '--group=0', '--numeric-owner', '-cf', file, '.']);
  return file;
}

async function buildImage(docker: Docker, contextDir: string, tag: string, log: (line: string) => void): Promise<void> {
  log(`building ${tag}`);
  const stream = await docker.buildImage(fs.createReadStream(tarContext(contextDir)), { t: tag, rm: true, forcerm: true });
  await followDockerStream(docker, stream, (line) => log(`  ${line}`));
}

// The host's node plus exactly what ldd says it links, at the same paths (copied, not linked,
// because the image has none of the host's symlink targets).
function writeRuntimeContext(dir: string, nodeBinary: string): void {
  const rootfs = path.join(dir, 'rootfs');
  const place = (source: string, target: string, mode: number) => {
    const destination = path.join(rootfs, target);
    fs.mkdirSync(path.dirname(destination), { recursive: true });
    fs.copyFileSync(fs.realpathSync(source), destination);
    fs.chmodSync(destination, mode);
  };
  place(nodeBinary, '/usr/local/bin/node', 0o755);
  const libraries = [...execFileSync('ldd', [nodeBinary], { encoding: 'utf8' }).matchAll(/(\/\S+)\s+\(0x/g)]
    .map((match) => match[1])
    .filter((lib): lib is string => lib !== undefined);
  const loader = '/lib64/ld-linux-x86-64.so.2';
  for (const lib of new Set([...libraries, ...(fs.existsSync(loader) ? [loader] : [])])) place(lib, lib, 0o755);
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/sbin/nologin\n');
  fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\n');
  fs.mkdirSync(path.join(rootfs, 'tmp'), { mode: 0o1777 });
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.writeFileSync(path.join(dir, 'Dockerfile'), [
    'FROM scratch',
    'COPY rootfs/ /',
    'ENV PATH=/usr/local/bin',
    `LABEL ${FIXTURE_LABEL}=nocobase-standin-runtime`,
    'CMD ["/usr/local/bin/node", "--version"]',
    '',
  ].join('\n'));
}

function writeAppContext(dir: string, base: string, variant: ImageVariant, hash: string, appDir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(appDir, path.join(dir, 'app'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'version.json'),
    `${JSON.stringify({ version: variant.version, brokenMigration: variant.brokenMigration })}\n`);
  fs.writeFileSync(path.join(dir, 'Dockerfile'), [
    `FROM ${base}`,
    'COPY app/ /app/',
    'COPY version.json /app/version.json',
    'COPY app/bin/yarn /usr/local/bin/yarn',
    'WORKDIR /app',
    'ENV NODE_ENV=production',
    `LABEL org.opencontainers.image.version=${variant.version} ${FIXTURE_LABEL}=nocobase-standin ${HASH_LABEL}=${hash}`,
    'CMD ["/usr/local/bin/node", "/app/server.js"]',
    '',
  ].join('\n'));
}

// Debian's dynamic busybox installs the same path but cannot run in an empty image.
function staticBusybox(): string {
  const binary = fs.realpathSync(BUSYBOX);
  let linked = '';
  try {
    linked = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    // ldd exits non-zero for "not a dynamic executable": what we want.
  }
  if (/=>|ld-linux/.test(linked)) throw new Error(`${binary} is dynamically linked: install Debian's busybox-static`);
  return binary;
}

// `busybox --install -s`, done here into the build context: the image has no shell to run it.
function writeToolboxContext(dir: string, busybox: string, hash: string): void {
  const bin = path.join(dir, 'rootfs', 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync(busybox, path.join(bin, 'busybox'));
  fs.chmodSync(path.join(bin, 'busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((name) => /^[\w.[-]+$/.test(name) && name !== 'busybox');
  for (const applet of applets) fs.symlinkSync('busybox', path.join(bin, applet));
  fs.mkdirSync(path.join(dir, 'rootfs', 'tmp'));
  fs.chmodSync(path.join(dir, 'rootfs', 'tmp'), 0o1777);
  fs.writeFileSync(path.join(dir, 'Dockerfile'), [
    'FROM scratch',
    'COPY rootfs/ /',
    'ENV PATH=/bin',
    `LABEL ${FIXTURE_LABEL}=nocobase-maintenance-toolbox ${HASH_LABEL}=${hash}`,
    'CMD ["sh"]',
    '',
  ].join('\n'));
}

/** Builds, pushes and untags the toolbox image unless the registry already has this build. */
export async function buildAndPushToolbox(options: BuildOptions): Promise<string> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { registry } = options;
  if (!registry) throw new Error('REGISTRY is not set (e.g. 127.0.0.1:5000)');
  const image = toolboxImage(registry);
  const busybox = staticBusybox();
  const hash = createHash('sha256').update(fs.readFileSync(busybox)).update(fs.readFileSync(__filename)).digest('hex').slice(0, 16);
  if (!options.force && (await registryHash(registry, TOOLBOX_TAG, TOOLBOX_REPOSITORY)) === hash) {
    log(`registry ${registry} already has ${TOOLBOX_REPOSITORY} build ${hash}; nothing to do`);
    return image;
  }
  const docker = dockerFromHost(options.dockerHost);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nocobase-toolbox-build-'));
  const started = Date.now();
  try {
    writeToolboxContext(path.join(work, 'toolbox'), busybox, hash);
    await buildImage(docker, path.join(work, 'toolbox'), image, log);
    const { Size } = await docker.getImage(image).inspect();
    log(`pushing ${image}`);
    const stream = await docker.getImage(`${registry}/${TOOLBOX_REPOSITORY}`).push({ tag: TOOLBOX_TAG, authconfig: {} });
    await followDockerStream(docker, stream, (line) => log(`  ${line}`));
    await removeTag(docker, image);
    log(`${image}: ${(Size / 1024 / 1024).toFixed(1)} MiB, built and pushed in ${Date.now() - started} ms`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return image;
}

async function removeTag(docker: Docker, tag: string): Promise<void> {
  try {
    await docker.getImage(tag).remove({ force: true });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}

export interface BuildOptions {
  dockerHost: string | undefined;
  registry: string | undefined;
  force?: boolean;
  log?: (line: string) => void;
}

/** Builds, pushes and untags the stand-in images unless the registry already has this build. */
export async function buildAndPushImages(options: BuildOptions): Promise<StandinImages> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { registry } = options;
  if (!registry) throw new Error('REGISTRY is not set (e.g. 127.0.0.1:5000)');
  const docker = dockerFromHost(options.dockerHost);
  const images = standinImages(registry);
  const nodeBinary = fs.realpathSync(fs.existsSync(process.execPath) ? process.execPath : '/usr/bin/node');
  const hash = contentHash(nodeBinary);

  if (!options.force) {
    const found = await Promise.all(VARIANTS.map((variant) => registryHash(registry, variant.tag)));
    if (found.every((value) => value === hash)) {
      log(`registry ${registry} already has ${REPOSITORY} build ${hash}; nothing to do`);
      return images;
    }
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nocobase-standin-build-'));
  const base = `nocobase-standin-runtime:${hash}`;
  try {
    const appDir = path.join(work, 'app');
    fs.cpSync(FIXTURE_DIR, appDir, { recursive: true, filter: (source) => path.basename(source) !== 'node_modules' });
    log('installing the fixture\'s production dependencies');
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: appDir, stdio: ['ignore', 2, 2] });

    writeRuntimeContext(path.join(work, 'runtime'), nodeBinary);
    await buildImage(docker, path.join(work, 'runtime'), base, log);
    for (const variant of VARIANTS) {
      const contextDir = path.join(work, `image-${variant.tag}`);
      writeAppContext(contextDir, base, variant, hash, appDir);
      await buildImage(docker, contextDir, `${registry}/${REPOSITORY}:${variant.tag}`, log);
    }
    for (const variant of VARIANTS) {
      log(`pushing ${registry}/${REPOSITORY}:${variant.tag}`);
      const stream = await docker.getImage(`${registry}/${REPOSITORY}`).push({ tag: variant.tag, authconfig: {} });
      await followDockerStream(docker, stream, (line) => log(`  ${line}`));
    }
    for (const variant of VARIANTS) await removeTag(docker, `${registry}/${REPOSITORY}:${variant.tag}`);
    await removeTag(docker, base);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return images;
}

async function main(): Promise<void> {
  const images = await buildAndPushImages({
    dockerHost: process.env.DOCKER_HOST,
    registry: process.env.REGISTRY,
    force: process.argv.includes('--force'),
  });
  const toolbox = await buildAndPushToolbox({ dockerHost: process.env.DOCKER_HOST, registry: process.env.REGISTRY, force: process.argv.includes('--force') });
  process.stdout.write(`DEMO_IMAGE_V1=${images.v1}\nDEMO_IMAGE_V2=${images.v2}\nDEMO_IMAGE_BROKEN=${images.broken}\nTOOLBOX_IMAGE=${toolbox}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`build-images: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

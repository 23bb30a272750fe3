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
// Re-runs are cheap: a content hash of the fixture, the node binary and the scripts that make
// the images (for the toolbox: the busybox binary and those scripts) is stored as an image
// label, and a build is skipped when the registry already serves that hash.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImage, dockerFromHost, followDockerStream, removeTag } from './docker-build';
import { placeBusybox, placeNodeRuntime, placeSystemFiles, staticBusybox } from './host-rootfs';

const FIXTURE_DIR = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'nocobase-standin');
const REPOSITORY = 'nocobase-standin';
const HASH_LABEL = 'nocobase-maintenance.standin-hash';
const FIXTURE_LABEL = 'nocobase-maintenance.test-fixture';
const TOOLBOX_REPOSITORY = 'nocobase-maintenance-toolbox';
const TOOLBOX_TAG = 'busybox';
// What decides the images' contents besides their inputs: a change to either rebuilds them.
const RECIPE = [__filename, require.resolve('./host-rootfs')];

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
  for (const file of RECIPE) hash.update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

export async function registryHash(registry: string, tag: string, repository = REPOSITORY, label = HASH_LABEL): Promise<string | undefined> {
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
  return image.config?.Labels?.[label];
}

// The host's node and what it links, nothing else: the fixture brings its own node_modules.
function writeRuntimeContext(dir: string, nodeBinary: string): void {
  const rootfs = path.join(dir, 'rootfs');
  placeNodeRuntime(rootfs, nodeBinary);
  placeSystemFiles(rootfs);
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

function toolboxHash(busybox: string): string {
  const hash = createHash('sha256').update(fs.readFileSync(busybox));
  for (const file of RECIPE) hash.update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

function writeToolboxContext(dir: string, busybox: string, hash: string): void {
  const rootfs = path.join(dir, 'rootfs');
  placeBusybox(rootfs, busybox);
  placeSystemFiles(rootfs);
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
  const hash = toolboxHash(busybox);
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

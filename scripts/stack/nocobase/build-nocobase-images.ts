// Real NocoBase node images, built locally the way the official image works, and pushed to the
// local registry (nothing can be pulled from the internet here):
//
//   $REGISTRY/nocobase:2.2.14                   the 2.2.15 release relabelled as 2.2.14 (TEST FIXTURE)
//   $REGISTRY/nocobase:2.2.15                   the release as published
//   $REGISTRY/nocobase:2.2.15-broken-migration  2.2.15 plus a plugin whose migration throws (TEST FIXTURE)
//
//   DOCKER_HOST=unix:///…/docker.sock REGISTRY=127.0.0.1:5000 npx tsx scripts/stack/nocobase/build-nocobase-images.ts [--force]
//
// Only 2.2.15 is installable from the registry, so the older image is the same code claiming an
// earlier version (see writeVariantContext): its database records 2.2.14, and starting the
// 2.2.15 image on it runs NocoBase's own upgrade. The application is installed once per machine
// (app-install.ts); a content hash of the install and of everything else the images contain is
// stored as a label, and nothing is built when the registry already serves all three tags with
// that hash. Local tags are removed after the push, so nodes pull from the registry for real.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { buildImage, dockerFromHost, followDockerStream, removeTag } from '../docker-build';
import { staticBusybox } from '../host-rootfs';
import { ensureAppInstall, NOCOBASE_VERSION, type AppInstall } from './app-install';
import {
  FIXTURE_LABEL, HASH_LABEL, runtimeFiles, VERSION_LABEL, writeAppContext, writeRuntimeContext, writeVariantContext,
  type RuntimeInputs, type VariantSpec,
} from './image-contexts';

export const NOCOBASE_REPOSITORY = 'nocobase';
/** The version the older image claims: an earlier 2.2.x than the one installed. */
export const RELABELLED_VERSION = '2.2.14';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const RECIPE = ['build-nocobase-images.ts', 'image-contexts.ts', 'broken-plugin.ts', 'docker-entrypoint.sh']
  .map((file) => path.join(__dirname, file))
  .concat(require.resolve('../host-rootfs'));

export const VARIANTS: readonly VariantSpec[] = [
  { variant: 'v1', tag: RELABELLED_VERSION, version: RELABELLED_VERSION },
  { variant: 'v2', tag: NOCOBASE_VERSION, version: NOCOBASE_VERSION },
  { variant: 'broken', tag: `${NOCOBASE_VERSION}-broken-migration`, version: NOCOBASE_VERSION },
];

export interface NocobaseImages {
  v1: string;
  v2: string;
  broken: string;
  hash: string;
  /** False when the registry already had this build. */
  built: boolean;
}

export interface NocobaseImageOptions {
  dockerHost: string | undefined;
  registry: string | undefined;
  /** Where the PostgreSQL client programs are; default $PGBIN, else Debian's newest. */
  pgBin?: string;
  force?: boolean;
  log?: (line: string) => void;
}

export function nocobaseImages(registry: string): Pick<NocobaseImages, 'v1' | 'v2' | 'broken'> {
  const [v1, v2, broken] = VARIANTS.map((spec) => `${registry}/${NOCOBASE_REPOSITORY}:${spec.tag}`);
  return { v1: v1 as string, v2: v2 as string, broken: broken as string };
}

function defaultPgBin(): string {
  if (process.env.PGBIN) return process.env.PGBIN;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => path.join(root, v, 'bin')).find((dir) => fs.existsSync(path.join(dir, 'pg_dump')));
  if (!found) throw new Error('no PostgreSQL client programs found (set PGBIN, or apt-get install postgresql-client)');
  return found;
}

// Addons for other platforms (musl) are skipped: ldd refuses them and NocoBase never loads them.
function nativeAddons(appDir: string): string[] {
  return (fs.readdirSync(path.join(appDir, 'node_modules'), { recursive: true }) as string[])
    .filter((file) => file.endsWith('.node') && !file.includes('musl'))
    .map((file) => path.join(appDir, 'node_modules', file))
    .sort();
}

function contentHash(install: AppInstall, inputs: RuntimeInputs): string {
  const hash = createHash('sha256').update(install.hash);
  for (const file of [...runtimeFiles(inputs), ...RECIPE]) hash.update(`${file}\0`).update(fs.readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

async function registryHash(registry: string, tag: string): Promise<string | undefined> {
  const base = `http://${registry}/v2/${NOCOBASE_REPOSITORY}`;
  const manifest = await fetch(`${base}/manifests/${tag}`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  if (manifest.status === 404) return undefined;
  if (!manifest.ok) throw new Error(`registry ${registry}: manifest ${tag}: HTTP ${manifest.status}`);
  const { config } = (await manifest.json()) as { config?: { digest?: string } };
  if (!config?.digest) return undefined;
  const blob = await fetch(`${base}/blobs/${config.digest}`);
  if (!blob.ok) throw new Error(`registry ${registry}: config blob of ${tag}: HTTP ${blob.status}`);
  return ((await blob.json()) as { config?: { Labels?: Record<string, string> } }).config?.Labels?.[HASH_LABEL];
}

// The app image's context is streamed: its Dockerfile and entrypoint, then the cached install's
// app/ — 86k files that are never copied to a temporary directory or written out as a tar file.
async function buildAppImage(docker: Docker, contextDir: string, install: AppInstall, tag: string, log: (line: string) => void): Promise<void> {
  log(`building ${tag} (sends the 1.1 GB application once)`);
  const tar = spawn('tar', ['--owner=0', '--group=0', '--numeric-owner', '-cf', '-', '-C', contextDir, '.', '-C', install.dir, 'app'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarErrors = '';
  tar.stderr.on('data', (chunk: Buffer) => { tarErrors += chunk.toString(); });
  const tarDone = new Promise<void>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited with ${code}: ${tarErrors.trim()}`))));
  });
  const stream = await docker.buildImage(tar.stdout, { t: tag, rm: true, forcerm: true });
  await followDockerStream(docker, stream, (line) => log(`  ${line}`));
  await tarDone;
}

async function push(docker: Docker, registry: string, tag: string, log: (line: string) => void): Promise<void> {
  log(`pushing ${registry}/${NOCOBASE_REPOSITORY}:${tag}`);
  const stream = await docker.getImage(`${registry}/${NOCOBASE_REPOSITORY}`).push({ tag, authconfig: {} });
  await followDockerStream(docker, stream, () => undefined);
}

/**
 * Makes sure the registry serves the three NocoBase node images of the current inputs: installs
 * the application (cached), builds and pushes only what the registry lacks. Safe to re-run; a
 * cached run costs seconds. Side effects: the install cache, the registry's tags; local tags are
 * removed again.
 */
export async function ensureNocobaseImages(options: NocobaseImageOptions): Promise<NocobaseImages> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { registry } = options;
  if (!registry) throw new Error('REGISTRY is not set (e.g. 127.0.0.1:5000)');
  const images = nocobaseImages(registry);
  const install = ensureAppInstall({ log });
  const inputs: RuntimeInputs = {
    nodeBinary: install.nodeBinary,
    yarnDir: install.yarnDir,
    busybox: staticBusybox(),
    pgBin: options.pgBin ?? defaultPgBin(),
    caBundle: process.env.NODE_EXTRA_CA_CERTS || CA_BUNDLE,
    addons: nativeAddons(install.appDir),
  };
  const hash = contentHash(install, inputs);
  if (!options.force) {
    const found = await Promise.all(VARIANTS.map((spec) => registryHash(registry, spec.tag)));
    if (found.every((value) => value === hash)) {
      log(`registry ${registry} already has ${NOCOBASE_REPOSITORY} build ${hash}; nothing to do`);
      return { ...images, hash, built: false };
    }
  }

  const docker = dockerFromHost(options.dockerHost);
  const runtime = `nocobase-node-runtime:${hash}`;
  const app = `nocobase-node-app:${hash}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nocobase-image-build-'));
  const started = Date.now();
  try {
    const common = { [HASH_LABEL]: hash };
    writeRuntimeContext(path.join(work, 'runtime'), inputs, common);
    await buildImage(docker, path.join(work, 'runtime'), runtime, log);
    writeAppContext(path.join(work, 'app'), runtime, common);
    await buildAppImage(docker, path.join(work, 'app'), install, app, log);
    for (const spec of VARIANTS) {
      const labels: Record<string, string> = { ...common, [VERSION_LABEL]: spec.version };
      if (spec.variant === 'v1') labels[FIXTURE_LABEL] = `nocobase ${NOCOBASE_VERSION} relabelled as ${spec.version}`;
      if (spec.variant === 'broken') labels[FIXTURE_LABEL] = `nocobase ${NOCOBASE_VERSION} with a plugin whose migration throws`;
      const dir = path.join(work, `variant-${spec.variant}`);
      writeVariantContext(dir, app, install.appDir, spec, labels);
      await buildImage(docker, dir, `${registry}/${NOCOBASE_REPOSITORY}:${spec.tag}`, log);
    }
    const built = Date.now();
    for (const spec of VARIANTS) await push(docker, registry, spec.tag, log);
    const { Size } = await docker.getImage(images.v2).inspect();
    log(`${NOCOBASE_REPOSITORY} build ${hash}: ${(Size / 1024 / 1024).toFixed(0)} MiB per image (layers shared); `
      + `built in ${built - started} ms, pushed in ${Date.now() - built} ms`);
    for (const spec of VARIANTS) await removeTag(docker, `${registry}/${NOCOBASE_REPOSITORY}:${spec.tag}`);
    await removeTag(docker, app);
    await removeTag(docker, runtime);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { ...images, hash, built: true };
}

async function main(): Promise<void> {
  const images = await ensureNocobaseImages({
    dockerHost: process.env.DOCKER_HOST,
    registry: process.env.REGISTRY,
    force: process.argv.includes('--force'),
  });
  process.stdout.write(`NOCOBASE_IMAGE_V1=${images.v1}\nNOCOBASE_IMAGE_V2=${images.v2}\nNOCOBASE_IMAGE_BROKEN=${images.broken}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`build-nocobase-images: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

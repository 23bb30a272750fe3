import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FAILURE_CONVERTER_PATH, failureConverterPathFromEnv } from '../client/data-converter';
import { processLogger } from '../logging/process-logger';
import { tracingEnabled } from '../tracing/provider';
import { TRACING_WORKFLOW_INTERCEPTORS } from './tracing';

export interface BundleOptions {
  /** With payload encryption on, the sandbox encodes its own failures' messages and stack traces too (src/codec/failure-converter.ts). */
  failureConverterPath?: string | undefined;
  /** Bundle tracing's workflow interceptors (default: when OTEL_EXPORTER_OTLP_ENDPOINT is set); off, it costs nothing. */
  tracing?: boolean;
}

function resolved(options: BundleOptions): { failureConverterPath: string | undefined; tracing: boolean } {
  return {
    failureConverterPath: 'failureConverterPath' in options ? options.failureConverterPath : failureConverterPathFromEnv(),
    tracing: options.tracing ?? tracingEnabled(),
  };
}

/**
 * Bundles src/workflows for the worker's sandbox. Webpack's report goes nowhere: at INFO it is a
 * screenful of module lists that buries what `npm start` prints. Warnings and errors still show,
 * in the process's log format. The interceptors: the procedures' log attributes always; tracing's
 * when asked. The failure converter and the interceptors are chosen at bundle time, so a bundle is
 * made for one setting of each.
 */
export function bundleWorkflows(options: BundleOptions = {}): Promise<WorkflowBundleWithSourceMap> {
  const { failureConverterPath, tracing } = resolved(options);
  const log = processLogger();
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: [require.resolve('../workflows/log-attributes'), ...(tracing ? [TRACING_WORKFLOW_INTERCEPTORS] : [])],
    ...(failureConverterPath ? { failureConverterPath } : {}),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: (message: string) => log.warn(message),
      error: (message: string) => log.error(message),
    },
  });
}

const SRC = path.resolve(__dirname, '..');
export const BUNDLE_DIR_ENV = 'NOCOBASE_MAINTENANCE_BUNDLE_DIR';

/** Where bundles are kept: NOCOBASE_MAINTENANCE_BUNDLE_DIR (the image sets it), else the user's cache. */
export function bundleDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.NOCOBASE_MAINTENANCE_CACHE || path.join(os.homedir(), '.cache', 'nocobase-maintenance');
  return env[BUNDLE_DIR_ENV] || path.join(cache, 'workflow-bundles');
}

function sourceFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((entry) => entry.isFile() && /\.[cm]?[jt]s$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

function installedVersion(name: string): string {
  return (JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
}

/**
 * The bundle's content key: every source file under src/ (the workflows import src/common and the
 * codec's failure converter, so src/workflows alone would miss a change), the SDK and bundler
 * versions that shape the output, whether failures are encoded and whether tracing is bundled.
 * Same key, same bundle.
 */
export function workflowBundleKey(options: BundleOptions = {}): string {
  const { failureConverterPath, tracing } = resolved(options);
  const hash = createHash('sha256');
  for (const file of sourceFiles(SRC)) hash.update(path.relative(SRC, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  for (const name of ['@temporalio/workflow', '@temporalio/worker', '@temporalio/common', '@temporalio/interceptors-opentelemetry']) hash.update(`${name}@${installedVersion(name)}\0`);
  hash.update(failureConverterPath ? 'encoded-failures' : 'plain-failures');
  hash.update(tracing ? '\0traced' : '\0untraced');
  return hash.digest('hex').slice(0, 24);
}

export interface CachedBundle {
  bundle: { codePath: string };
  key: string;
  /** False when the bundle was already there (the fast start). */
  built: boolean;
}

/**
 * The workflow bundle for this source, built once per content key and kept in `bundleDir()`:
 * a worker that finds it skips webpack (seconds) and loads the file. Written to a temporary name
 * and renamed, so a worker killed while bundling, or two bundling at once, never leave a half file.
 * A directory that cannot be written (a read-only image) only costs the bundling at each start.
 */
export async function cachedWorkflowBundle(options: BundleOptions & { dir?: string } = {}): Promise<CachedBundle> {
  const settings = resolved(options);
  const key = workflowBundleKey(settings);
  const dir = options.dir ?? bundleDir();
  const file = path.join(dir, `workflows-${key}.js`);
  if (fs.existsSync(file)) return { bundle: { codePath: file }, key, built: false };
  const { code } = await bundleWorkflows(settings);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, code);
    fs.renameSync(temporary, file);
    return { bundle: { codePath: file }, key, built: true };
  } catch (error) {
    console.warn(`workflow bundle not cached in ${dir} (${(error as Error).message}); the next start bundles again`);
    const fallback = path.join(os.tmpdir(), `nocobase-maintenance-workflows-${key}-${process.pid}.js`);
    fs.writeFileSync(fallback, code);
    return { bundle: { codePath: fallback }, key, built: true };
  }
}

/** Every variant (plain and encoded failures, with and without tracing): what the image build runs, so no start bundles. */
export async function prebuildWorkflowBundles(dir = bundleDir()): Promise<CachedBundle[]> {
  const bundles: CachedBundle[] = [];
  for (const failureConverterPath of [undefined, FAILURE_CONVERTER_PATH]) {
    for (const tracing of [false, true]) bundles.push(await cachedWorkflowBundle({ failureConverterPath, tracing, dir }));
  }
  return bundles;
}

if (require.main === module) {
  prebuildWorkflowBundles().then((bundles) => {
    for (const { bundle, built } of bundles) console.log(`${built ? 'bundled' : 'already bundled'}: ${bundle.codePath}`);
  }, (error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

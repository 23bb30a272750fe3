import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { inStandinStorage } from './storage-listing';

const run = promisify(execFile);

/** A NocoBase server plugin of no consequence, as an operator's own plugin arrives: an npm tarball (TEST FIXTURE). */
export const SAMPLE_PLUGIN_PACKAGE = '@nocobase-maintenance/plugin-hello';

const files: Record<string, string> = {
  'package.json': `${JSON.stringify({
    name: SAMPLE_PLUGIN_PACKAGE,
    displayName: 'Hello (nocobase-maintenance test fixture)',
    description: 'Added from a local tarball by the in-app maintenance test.',
    version: '2.2.15',
    license: 'MIT',
    main: './dist/server/index.js',
    peerDependencies: { '@nocobase/server': '2.x' },
  }, null, 2)}\n`,
  'server.js': "module.exports = require('./dist/server/index.js');\n",
  'dist/server/index.js': [
    "'use strict';",
    "const { Plugin } = require('@nocobase/server');",
    'class PluginHello extends Plugin {}',
    'module.exports = PluginHello;',
    'module.exports.default = PluginHello;',
    '',
  ].join('\n'),
};

/**
 * Packs the plugin as `npm pack` lays a tarball out (everything under `package/`) and puts it in
 * the demo cluster's shared storage, where every node sees it; returns its path inside a node.
 */
export async function putSamplePluginInDemoStorage(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'plugin-hello-'));
  try {
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, 'package', file)), { recursive: true });
      await writeFile(path.join(dir, 'package', file), content);
    }
    await run('tar', ['-czf', path.join(dir, 'plugin-hello.tgz'), '-C', dir, 'package']);
    const tarball = (await readFile(path.join(dir, 'plugin-hello.tgz'))).toString('base64');
    await inStandinStorage(`mkdir -p /storage/uploads-for-maintenance && echo '${tarball}' | base64 -d > /storage/uploads-for-maintenance/plugin-hello.tgz && chown -R "$(stat -c %u:%g /storage)" /storage/uploads-for-maintenance`, {}, 'demo');
    return '/app/nocobase/storage/uploads-for-maintenance/plugin-hello.tgz';
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

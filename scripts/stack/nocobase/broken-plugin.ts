// A NocoBase server plugin whose only migration throws: the broken upgrade target (a TEST
// FIXTURE). The broken image lists it in APPEND_PRESET_BUILT_IN_PLUGINS, so NocoBase's own
// upgrade (`start --quickstart` over an installed database) registers it as an enabled built-in
// plugin, loads its migrations with the other enabled plugins', and the `beforeLoad` migration
// fails inside NocoBase: the node stays up answering 503 APP_ERROR, as after a real bad release.
// Written out from here (not kept as .js files) so the repo's lint and type-check see only TS.
import fs from 'node:fs';
import path from 'node:path';

export const BROKEN_PLUGIN_PACKAGE = '@nocobase-maintenance/plugin-broken-migration';
export const BROKEN_PLUGIN_PREFIX = '@nocobase-maintenance/plugin-';
export const BROKEN_MIGRATION_MESSAGE = 'nocobase-maintenance test fixture: this migration always fails';

const files: Record<string, string> = {
  'package.json': `${JSON.stringify({
    name: BROKEN_PLUGIN_PACKAGE,
    displayName: 'Broken migration (nocobase-maintenance test fixture)',
    description: 'Its migration throws, so an upgrade onto an image carrying it fails.',
    version: '2.2.15',
    license: 'MIT',
    main: './dist/server/index.js',
    peerDependencies: { '@nocobase/server': '2.x' },
  }, null, 2)}\n`,
  'server.js': "module.exports = require('./dist/server/index.js');\n",
  'dist/server/index.js': [
    "'use strict';",
    "const { Plugin } = require('@nocobase/server');",
    'class PluginBrokenMigration extends Plugin {}',
    'module.exports = PluginBrokenMigration;',
    'module.exports.default = PluginBrokenMigration;',
    '',
  ].join('\n'),
  // The appVersion range makes it a migration of the 2.2.15 release: it runs on a database
  // recorded at an earlier version, as a real release's migration would.
  'dist/server/migrations/20990101000000-always-fails.js': [
    "'use strict';",
    "const { Migration } = require('@nocobase/server');",
    'class AlwaysFails extends Migration {',
    "  on = 'beforeLoad';",
    "  appVersion = '<2.2.15';",
    '  async up() {',
    `    throw new Error(${JSON.stringify(BROKEN_MIGRATION_MESSAGE)});`,
    '  }',
    '}',
    'module.exports = AlwaysFails;',
    'module.exports.default = AlwaysFails;',
    '',
  ].join('\n'),
};

/** Writes the plugin package into `dir` (its package directory). */
export function writeBrokenMigrationPlugin(dir: string): void {
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMaintenanceInput } from '../../src/procedures/in-app-maintenance';

const pm = (...args: string[]) => ({ cluster: 'demo', operations: [{ type: 'pm', args }] });

describe('in-app maintenance operations, checked before anything is touched', () => {
  it('lets `pm add` take a plugin tarball by its absolute path inside the node (an operator\'s own plugin, offline)', () => {
    for (const path of ['/app/nocobase/storage/uploads-for-maintenance/plugin-hello.tgz', '/app/nocobase/storage/plugins/x-1.2.3.tar.gz']) {
      assert.deepEqual(checkMaintenanceInput(pm('add', path)).operations, [{ type: 'pm', args: ['add', path] }]);
    }
  });

  it('refuses paths anywhere else in a pm command, relative or climbing paths, and other files', () => {
    for (const args of [
      ['enable', '/app/nocobase/storage/plugin.tgz'],
      ['add', 'storage/plugin.tgz'],
      ['add', '/app/nocobase/storage/../../etc/plugin.tgz'],
      ['add', '/app/nocobase/storage/plugin.zip'],
      ['add', '/app/nocobase/storage/plugin .tgz'],
      ['add', '--registry=/x.tgz'],
    ]) {
      assert.throws(() => checkMaintenanceInput(pm(...args)), /not plugin names/, JSON.stringify(args));
    }
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/config-error';
import { parseConfig } from '../../src/config/load';

/** The yaml block of the README's "Cluster configuration" section: the example people copy. */
function readmeExample(): string {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const section = readme.split(/^## Cluster configuration$/m)[1]?.split(/^## /m)[0] ?? '';
  const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the README\'s "Cluster configuration" section has a yaml example');
  return block;
}

describe('the README\'s cluster configuration example', () => {
  it('is accepted by the loader as it stands', () => {
    try {
      parseConfig(readmeExample(), 'README.md');
    } catch (error) {
      assert.fail(error instanceof ConfigError ? error.problems.join('\n') : String(error));
    }
  });
});

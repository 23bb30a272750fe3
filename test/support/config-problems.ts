import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/config-error';
import { parseConfig } from '../../src/config/load';

/** The problems the loader lists for a configuration it refuses; fails the test when it accepts it. */
export function configProblems(text: string): readonly string[] {
  try {
    parseConfig(text, 'clusters.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  return assert.fail('expected a ConfigError');
}

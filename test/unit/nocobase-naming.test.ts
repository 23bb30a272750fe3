import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_NAMING, namingFromEnv, quoteIdentifier, tableNaming } from '../../src/adapters/nocobase/table-naming';

describe('NocoBase table naming', () => {
  it('uses camelCase tables in schema public by default, as existing deployments do', () => {
    const naming = tableNaming();
    assert.equal(naming.versionTable, '"public"."applicationVersion"');
    assert.equal(naming.pluginsTable, '"public"."applicationPlugins"');
    assert.deepEqual(naming.column, {
      value: '"value"',
      name: '"name"',
      packageName: '"packageName"',
      builtIn: '"builtIn"',
      enabled: '"enabled"',
      installed: '"installed"',
    });
  });

  it('switches tables and columns to snake_case when underscored', () => {
    const naming = tableNaming({ underscored: true });
    assert.equal(naming.versionTable, '"public"."application_version"');
    assert.equal(naming.pluginsTable, '"public"."application_plugins"');
    assert.equal(naming.column.builtIn, '"built_in"');
    assert.equal(naming.column.packageName, '"package_name"');
    assert.equal(naming.column.enabled, '"enabled"');
  });

  it('prepends the table prefix to the table names only, after snake-casing them', () => {
    assert.equal(tableNaming({ prefix: 'nb_' }).versionTable, '"public"."nb_applicationVersion"');
    const both = tableNaming({ prefix: 'nb_', underscored: true });
    assert.equal(both.pluginsTable, '"public"."nb_application_plugins"');
    assert.equal(both.column.builtIn, '"built_in"', 'columns carry no prefix');
  });

  it('qualifies the tables with the configured schema, and an empty schema means public', () => {
    assert.equal(tableNaming({ schema: 'nocobase' }).versionTable, '"nocobase"."applicationVersion"');
    assert.equal(tableNaming({ schema: '' }).versionTable, '"public"."applicationVersion"');
  });

  it('escapes double quotes in identifiers, so a hostile prefix or schema cannot break out', () => {
    assert.equal(quoteIdentifier('a"b'), '"a""b"');
    const naming = tableNaming({ prefix: 'x"; DROP TABLE users; --', schema: 'we"ird' });
    assert.equal(naming.versionTable, '"we""ird"."x""; DROP TABLE users; --applicationVersion"');
    assert.throws(() => quoteIdentifier('a\0b'), TypeError);
  });

  it('reads only DB_TABLE_PREFIX, DB_UNDERSCORED and DB_SCHEMA from a container env', () => {
    const env = [
      'PATH=/usr/local/bin',
      'DB_PASSWORD=s3cret=with=equals',
      'APP_KEY=also-secret',
      'DB_TABLE_PREFIX=nb_',
      'DB_UNDERSCORED=true',
      'DB_SCHEMA=nocobase',
      'NO_EQUALS_SIGN',
    ];
    const naming = namingFromEnv(env);
    assert.deepEqual(naming, { prefix: 'nb_', underscored: true, schema: 'nocobase' });
    assert.deepEqual(Object.keys(naming).sort(), ['prefix', 'schema', 'underscored']);
    assert.doesNotMatch(JSON.stringify(naming), /s3cret|also-secret|usr/);
  });

  it('parses DB_UNDERSCORED as NocoBase does and falls back to the defaults', () => {
    assert.deepEqual(namingFromEnv([]), DEFAULT_NAMING);
    assert.deepEqual(namingFromEnv(undefined), DEFAULT_NAMING);
    assert.equal(namingFromEnv(['DB_UNDERSCORED=1']).underscored, false);
    assert.equal(namingFromEnv(['DB_UNDERSCORED=TRUE']).underscored, false);
    assert.equal(namingFromEnv(['DB_SCHEMA=']).schema, 'public');
    assert.equal(namingFromEnv(['DB_TABLE_PREFIX=a_', 'DB_TABLE_PREFIX=b_']).prefix, 'b_', 'a later duplicate wins');
  });
});

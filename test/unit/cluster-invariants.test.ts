import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareNodeEnvs, mustBeShared, type NodeEnvironment } from '../../src/activities/cluster/invariants';

const IMAGE = 'registry.local/nocobase:1.6.0';
const BASE = [
  'PATH=/usr/local/bin',
  'APP_KEY=key-value-one',
  'DB_HOST=10.0.0.5',
  'DB_PORT=5432',
  'DB_PASSWORD=hunter2-secret',
  'CACHE_REDIS_URL=redis://:redis-pass@10.0.0.6:6379/0',
  'NODE_NAME_FOR_LOGS=whatever',
];

function node(name: string, change: (env: string[]) => string[] = (env) => env, image = IMAGE): NodeEnvironment {
  return { name, image, env: change([...BASE]) };
}

const set = (name: string, value: string) => (env: string[]) => [...env.filter((entry) => !entry.startsWith(`${name}=`)), `${name}=${value}`];
const unset = (name: string) => (env: string[]) => env.filter((entry) => !entry.startsWith(`${name}=`));

describe('comparing the nodes of a cluster', () => {
  it('accepts nodes that agree, whatever else differs, and lists the variables it checked', () => {
    const report = compareNodeEnvs([node('node-1'), node('node-2', set('NODE_NAME_FOR_LOGS', 'other')), node('node-3', set('APP_PORT', '13003'))]);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.checked, [
      'APP_AES_SECRET_KEY', 'APP_KEY', 'CACHE_DEFAULT_STORE', 'CACHE_REDIS_URL', 'DB_HOST', 'DB_PASSWORD', 'DB_PORT',
      'LOCK_ADAPTER_REDIS_URL', 'PUBSUB_ADAPTER_REDIS_URL', 'QUEUE_ADAPTER_REDIS_URL',
    ]);
  });

  it('names each differing node and variable, and no value', () => {
    const report = compareNodeEnvs([
      node('node-1'),
      node('node-2'),
      node('node-3', (env) => set('DB_PASSWORD', 'other-secret')(set('APP_KEY', 'key-value-two')(env))),
    ]);
    assert.deepEqual(report.problems, ['node-3 differs from node-1 in APP_KEY, DB_PASSWORD']);
    assert.deepEqual(report.differences, [{ node: 'node-3', reference: 'node-1', variables: ['APP_KEY', 'DB_PASSWORD'] }]);
    assert.doesNotMatch(JSON.stringify(report), /key-value|secret|hunter2|redis-pass/);
  });

  it('treats a variable set on one node and absent on another as a difference, also when empty', () => {
    const report = compareNodeEnvs([node('node-1'), node('node-2', unset('DB_PORT')), node('node-3', set('QUEUE_ADAPTER_REDIS_URL', ''))]);
    assert.deepEqual(report.problems, ['node-2 differs from node-1 in DB_PORT', 'node-3 differs from node-1 in QUEUE_ADAPTER_REDIS_URL']);
  });

  it('reports the odd node out against the majority, not against the first node', () => {
    const report = compareNodeEnvs([node('node-1', set('APP_AES_SECRET_KEY', 'x')), node('node-2'), node('node-3')]);
    assert.deepEqual(report.problems, ['node-1 differs from node-2 in APP_AES_SECRET_KEY']);
  });

  it('covers any DB_, CACHE_, PUBSUB_, LOCK_ and QUEUE_ variable, not only the well-known ones', () => {
    for (const name of ['DB_TABLE_PREFIX', 'CACHE_MEMORY_MAX', 'PUBSUB_ADAPTER_REDIS_URL', 'LOCK_ADAPTER_REDIS_URL', 'QUEUE_FOO', 'APP_KEY', 'APP_AES_SECRET_KEY']) {
      assert.equal(mustBeShared(name), true, name);
    }
    for (const name of ['APP_PORT', 'PATH', 'STANDIN_NODE_NAME', 'MY_DB_HOST', 'APP_KEYS']) assert.equal(mustBeShared(name), false, name);
    const report = compareNodeEnvs([node('node-1'), node('node-2', set('DB_UNDERSCORED', 'true'))]);
    assert.deepEqual(report.problems, ['node-2 differs from node-1 in DB_UNDERSCORED']);
  });

  it('refuses nodes on different images, naming them and the images', () => {
    const report = compareNodeEnvs([node('node-1'), node('node-2', undefined, 'registry.local/nocobase:1.7.0'), node('node-3')]);
    assert.deepEqual(report.problems, ['node-2 runs image registry.local/nocobase:1.7.0 while node-1 runs registry.local/nocobase:1.6.0']);
  });

  it('refuses more than 32 nodes and accepts exactly 32', () => {
    const many = (count: number) => Array.from({ length: count }, (_, i) => node(`node-${i + 1}`));
    assert.deepEqual(compareNodeEnvs(many(32)).problems, []);
    assert.deepEqual(compareNodeEnvs(many(33)).problems, ['the cluster has 33 nodes; NocoBase cluster mode allows at most 32']);
  });
});

import type Docker from 'dockerode';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from 'pg';
import { dropDerivedDatabases, removeSavedContainers } from '../../scripts/stack/cluster-leftovers';

// A stack reset must leave nothing findLeftovers reports, or one terminated test run makes every
// later procedure on that cluster refuse with LeftoversFound. Shown here on fakes of the Engine
// and the server (the stack itself is not needed to see what is removed).

/** An Engine with these container names; name filters match anywhere in the name, as Docker's do. */
function fakeDocker(names: string[]) {
  const removed: string[] = [];
  const docker = {
    listContainers: async ({ filters }: { filters: { name: string[] } }) =>
      names
        .filter((name) => filters.name.every((part) => name.includes(part)))
        .map((name) => ({ Id: `id-${name}`, Names: [`/${name}`], Image: 'nocobase:1', State: 'exited', Created: 0 })),
    getContainer: (id: string) => ({ remove: async () => void removed.push(id.replace(/^id-/, '')) }),
  };
  return { docker: docker as unknown as Docker, removed };
}

/** A server with these databases, answering the LIKE listing and recording every DROP. */
function fakeServer(databases: string[]) {
  const dropped: string[] = [];
  const client = {
    escapeIdentifier: (name: string) => `"${name.replace(/"/g, '""')}"`,
    query: async (sql: string, params: string[] = []) => {
      if (sql.startsWith('DROP DATABASE')) {
        assert.match(sql, /WITH \(FORCE\)$/, 'a reset ends the sessions of what it drops');
        dropped.push(/"(.+)"/.exec(sql)?.[1] ?? sql);
        return { rows: [] };
      }
      const prefix = (params[0] ?? '').replace(/%$/, '').replace(/\\(.)/g, '$1');
      return { rows: databases.filter((name) => name.startsWith(prefix)).map((name) => ({ name, comment: null, owner: 'nocobase' })) };
    },
  };
  return { client: client as unknown as Client, dropped };
}

describe('a stack reset', () => {
  it('removes every container saved from a node of the cluster, and no other', async () => {
    const { docker, removed } = fakeDocker([
      'standin-node-1', 'standin-node-1-pre-0123456789ab', 'standin-node-2-pre-ba9876543210', 'standin-node-10-pre-0123456789ab', 'demo-node-1-pre-0123456789ab',
    ]);
    await removeSavedContainers(docker, ['standin-node-1', 'standin-node-2', 'standin-node-3'], () => undefined);
    assert.deepEqual(removed.sort(), ['standin-node-1-pre-0123456789ab', 'standin-node-2-pre-ba9876543210']);
  });

  it('drops the clone backups and set-aside databases of the cluster\'s database, and no other', async () => {
    const { client, dropped } = fakeServer([
      'nocobase_standin', 'nocobase_standin_bk_0123456789ab', 'nocobase_standin_rb_0123456789ab', 'nocobase_standin_rb_0123456789ab-restore', 'nocobase_demo_bk_0123456789ab', 'nocobase_standin2_rb_x',
    ]);
    await dropDerivedDatabases(client, 'nocobase_standin', () => undefined);
    assert.deepEqual(dropped.sort(), ['nocobase_standin_bk_0123456789ab', 'nocobase_standin_rb_0123456789ab', 'nocobase_standin_rb_0123456789ab-restore']);
  });
});

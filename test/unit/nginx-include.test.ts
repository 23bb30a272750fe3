import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressOf, parseInclude, renderInclude, type IncludeState } from '../../src/adapters/nginx/include-file';

const state: IncludeState = {
  generation: 7,
  maintenance: true,
  servers: [
    { server: 'node-1', address: '10.0.0.1:13000', state: 'ready' },
    { server: 'node-2', address: '10.0.0.2:13000', state: 'drain' },
    { server: 'app3', address: '10.0.0.3:13000', state: 'maint' },
  ],
};

describe('the Nginx include file', () => {
  it('renders the upstream with servers out of rotation marked down, and the switch and generation as variables', () => {
    const text = renderInclude('nocobase', state);
    assert.match(text, /^upstream nocobase \{$/m);
    assert.match(text, /^ {4}server 10\.0\.0\.1:13000; # node-1 ready$/m);
    assert.match(text, /^ {4}server 10\.0\.0\.2:13000 down; # node-2 drain$/m);
    assert.match(text, /^ {4}server 10\.0\.0\.3:13000 down; # app3 maint$/m);
    assert.match(text, /^map \$host \$nocobase_maintenance \{ default "on"; \}$/m);
    assert.match(text, /^map \$host \$nocobase_generation \{ default "7"; \}$/m);
  });

  it('reads back exactly the state it was rendered from', () => {
    assert.deepEqual(parseInclude('nocobase', renderInclude('nocobase', state)), state);
    const off = { ...state, maintenance: false, generation: 0 };
    assert.deepEqual(parseInclude('nocobase', renderInclude('nocobase', off)), off);
  });

  it('lets a hand edit of `down` win over the comment, so what Nginx does is what the worker reads', () => {
    const edited = renderInclude('nocobase', state).replace('server 10.0.0.1:13000;', 'server 10.0.0.1:13000 down;').replace('server 10.0.0.3:13000 down;', 'server 10.0.0.3:13000;');
    const parsed = parseInclude('nocobase', edited);
    assert.ok(typeof parsed !== 'string');
    assert.deepEqual(parsed.servers.map(({ state: serverState }) => serverState), ['maint', 'drain', 'ready']);
  });

  it('says what is wrong with a file it did not write, or written for another upstream', () => {
    assert.match(parseInclude('other', renderInclude('nocobase', state)) as string, /upstream other/);
    assert.match(parseInclude('nocobase', 'upstream nocobase {\n    server 10.0.0.1:13000;\n}\n') as string, /\$nocobase_maintenance/);
    const foreign = renderInclude('nocobase', state).replace('# node-1 ready', 'weight=3');
    assert.match(parseInclude('nocobase', foreign) as string, /is not "server <host:port>\[ down\]; # <server> <ready\|drain\|maint>"/);
  });

  it('proxies to the host and port of the node health URL', () => {
    assert.equal(addressOf('http://10.0.0.1:13000/api/__health_check'), '10.0.0.1:13000');
    assert.equal(addressOf('http://node-2/api/__health_check'), 'node-2:80');
    assert.equal(addressOf('https://node-3/api/__health_check'), 'node-3:443');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REPLACED_FROM_LABEL, replacementSpec, type ImageDefaults, type InspectedContainer } from '../../src/adapters/docker/container-definition';

const ID = 'abcdef1234567890'.padEnd(64, '0');

const oldImage: ImageDefaults = {
  Env: ['PATH=/usr/local/bin', 'NODE_ENV=production'],
  Cmd: ['/usr/local/bin/node', '/app/server.js'],
  WorkingDir: '/app',
  Labels: { 'org.opencontainers.image.version': '1.6.0', vendor: 'nocobase' },
  Volumes: { '/app/storage': {} },
  ExposedPorts: { '13000/tcp': {} },
  Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 },
  StopSignal: 'SIGTERM',
};

/** A container as the Engine reports it after `docker create` on oldImage, image values merged in. */
function inspected(change: (container: InspectedContainer) => void = () => undefined): InspectedContainer {
  const container: InspectedContainer = {
    Id: ID,
    Config: {
      Hostname: ID.slice(0, 12),
      Domainname: '',
      User: '',
      Env: ['APP_PORT=13001', 'DB_PASSWORD=secret', 'PATH=/usr/local/bin', 'NODE_ENV=production'],
      Cmd: ['/usr/local/bin/node', '/app/server.js'],
      Entrypoint: null,
      Image: 'registry/nocobase:1.6.0',
      WorkingDir: '/app',
      Labels: { 'org.opencontainers.image.version': '1.6.0', vendor: 'nocobase', 'nocobase-maintenance.node': 'node-1' },
      Volumes: { '/app/storage': {} },
      ExposedPorts: { '13000/tcp': {} },
      Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 },
      StopSignal: 'SIGTERM',
      Tty: false,
    },
    HostConfig: {
      NetworkMode: 'host',
      Binds: ['/srv/events:/standin-events'],
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      Memory: 1 << 30,
      CapAdd: ['SYS_PTRACE'],
    },
    Mounts: [{ Type: 'bind', Destination: '/standin-events' }],
    NetworkSettings: { Networks: { host: { Aliases: null } } },
  };
  change(container);
  return container;
}

const target = { name: 'demo-node-1', image: 'registry/nocobase:1.7.0' };

describe('replacementSpec: a container re-created on another image', () => {
  it('keeps the env entries, labels and host configuration the container was given', () => {
    const { create, extraNetworks } = replacementSpec(inspected(), oldImage, target);
    assert.equal(create.name, 'demo-node-1');
    assert.equal(create.Image, 'registry/nocobase:1.7.0');
    assert.deepEqual(create.Env, ['APP_PORT=13001', 'DB_PASSWORD=secret']);
    assert.deepEqual(create.Labels, { 'nocobase-maintenance.node': 'node-1', [REPLACED_FROM_LABEL]: 'registry/nocobase:1.6.0' });
    assert.deepEqual(create.HostConfig, inspected().HostConfig);
    assert.deepEqual(extraNetworks, []);
    assert.equal(create.NetworkingConfig, undefined, 'host networking has no endpoints of its own');
  });

  it('leaves every value inherited from the old image to the new image', () => {
    const { create } = replacementSpec(inspected(), oldImage, target);
    for (const field of ['Cmd', 'Entrypoint', 'WorkingDir', 'User', 'Volumes', 'ExposedPorts', 'Healthcheck', 'StopSignal', 'Hostname'] as const) {
      assert.equal(create[field], undefined, `${field} is not frozen`);
    }
  });

  it('keeps values the container overrode, even under a key the image also sets', () => {
    const { create } = replacementSpec(
      inspected((c) => {
        c.Config.Env = ['NODE_ENV=development', 'PATH=/usr/local/bin'];
        c.Config.Labels = { 'org.opencontainers.image.version': 'pinned' };
        c.Config.Cmd = ['node', 'other.js'];
        c.Config.WorkingDir = '/srv';
        c.Config.User = '1000:1000';
        c.Config.StopTimeout = 60;
        c.Config.Hostname = 'app-1';
        c.HostConfig.NetworkMode = 'default';
      }),
      oldImage,
      target,
    );
    assert.deepEqual(create.Env, ['NODE_ENV=development']);
    assert.equal(create.Labels?.['org.opencontainers.image.version'], 'pinned');
    assert.deepEqual(create.Cmd, ['node', 'other.js']);
    assert.equal(create.Entrypoint, undefined, 'the image entrypoint still applies to the overridden Cmd');
    assert.equal(create.WorkingDir, '/srv');
    assert.equal(create.User, '1000:1000');
    assert.equal(create.StopTimeout, 60);
    assert.equal(create.Hostname, 'app-1', 'a chosen hostname is kept with a network stack of its own');
  });

  it('keeps Cmd with an own Entrypoint, because the Engine never inherits Cmd then', () => {
    const { create } = replacementSpec(inspected((c) => { c.Config.Entrypoint = ['tini', '--']; }), oldImage, target);
    assert.deepEqual(create.Entrypoint, ['tini', '--']);
    assert.deepEqual(create.Cmd, ['/usr/local/bin/node', '/app/server.js']);
  });

  it('keeps image-declared ports that are published, and volumes the container added', () => {
    const { create } = replacementSpec(
      inspected((c) => {
        c.HostConfig.NetworkMode = 'bridge';
        c.HostConfig.PortBindings = { '13000/tcp': [{ HostPort: '13001' }] };
        c.Config.ExposedPorts = { '13000/tcp': {}, '9229/tcp': {} };
        c.Config.Volumes = { '/app/storage': {}, '/cache': {} };
      }),
      oldImage,
      target,
    );
    assert.deepEqual(create.ExposedPorts, { '13000/tcp': {}, '9229/tcp': {} });
    assert.deepEqual(create.Volumes, { '/cache': {} });
  });

  it('mounts anonymous volumes by name so their data follows the node', () => {
    const anonymous = 'f'.repeat(64);
    const { create } = replacementSpec(
      inspected((c) => {
        c.Mounts = [
          { Type: 'bind', Destination: '/standin-events' },
          { Type: 'volume', Name: anonymous, Destination: '/app/storage' },
          { Type: 'volume', Name: 'named-data', Destination: '/named' },
        ];
      }),
      oldImage,
      target,
    );
    assert.deepEqual(create.HostConfig?.Mounts, [{ Type: 'volume', Source: anonymous, Target: '/app/storage' }]);
  });

  it('attaches the same user networks with their aliases, minus the old container ID', () => {
    const { create, extraNetworks } = replacementSpec(
      inspected((c) => {
        c.HostConfig.NetworkMode = 'backend';
        c.NetworkSettings = {
          Networks: {
            backend: { Aliases: ['app', ID.slice(0, 12)], IPAMConfig: { IPv4Address: '10.1.0.5' } },
            metrics: { Aliases: ['app-metrics'], IPAMConfig: null, Links: null },
          },
        };
        c.HostConfig.Links = ['/db:/demo-node-1/database'];
      }),
      oldImage,
      target,
    );
    assert.deepEqual(create.NetworkingConfig, { EndpointsConfig: { backend: { Aliases: ['app'], IPAMConfig: { IPv4Address: '10.1.0.5' } } } });
    assert.deepEqual(extraNetworks, [{ network: 'metrics', endpoint: { Aliases: ['app-metrics'] } }]);
    assert.deepEqual(create.HostConfig?.Links, ['db:database']);
  });

  it('adds no endpoint for the default bridge, which takes no aliases', () => {
    const { create, extraNetworks } = replacementSpec(
      inspected((c) => {
        c.HostConfig.NetworkMode = 'default';
        c.NetworkSettings = { Networks: { bridge: { Aliases: null } } };
      }),
      oldImage,
      target,
    );
    assert.equal(create.NetworkingConfig, undefined);
    assert.deepEqual(extraNetworks, []);
  });

  it('replaces an earlier replaced-from label instead of keeping it', () => {
    const { create } = replacementSpec(inspected((c) => { c.Config.Labels = { ...c.Config.Labels, [REPLACED_FROM_LABEL]: 'registry/nocobase:1.5.0' }; }), oldImage, target);
    assert.equal(create.Labels?.[REPLACED_FROM_LABEL], 'registry/nocobase:1.6.0');
  });
});

// test-lane: standin
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createActivities, type Activities } from '../../src/activities';
import { trafficSwitch } from '../../src/activities/load-balancer/factory';
import { FailureType } from '../../src/common/failure-types';
import { dockerNodesOf, type MaintenanceConfig } from '../../src/config/schema';
import type { WorkerDeps } from '../../src/worker/deps';
import { generationServed, includeState, nginxEnv, nginxStackConfig, resetNginx, stackUpNginx, stopNginx } from '../support/nginx';
import { runActivity, stackDeps } from '../support/stack';

const cluster = 'standin';

/**
 * A node of our own in place of each stand-in container: answers its health check, names itself
 * on every answer, and holds `/hold` requests until the test lets them go (an in-flight request
 * a drain must wait for). Nginx, its include and its reloads are the stack's, for real.
 */
class FakeNode {
  readonly held: ServerResponse[] = [];
  healthy = true;
  private server: Server | undefined;

  constructor(readonly name: string) {}

  async listen(): Promise<number> {
    this.server = createServer((request: IncomingMessage, response: ServerResponse) => {
      if (request.url === '/api/__health_check') {
        response.writeHead(this.healthy ? 200 : 503).end(this.healthy ? 'ok' : 'down');
      } else if (request.url === '/hold') {
        response.writeHead(200, { 'x-node': this.name });
        response.write('started ');
        this.held.push(response);
      } else {
        response.writeHead(200, { 'x-node': this.name }).end(this.name);
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  release(): void {
    for (const response of this.held.splice(0)) response.end('finished');
  }

  async close(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/**
 * One request on a connection of its own, as a new visitor makes it: a pooled keep-alive
 * connection may belong to a worker that a reload just told to finish.
 */
function get(url: string): Promise<{ status: number; node: string | null; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, node: (response.headers['x-node'] as string | undefined) ?? null, body }));
    })
      .on('error', reject)
      .end();
  });
}

async function until(ms: number, look: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await look())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms}ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the traffic switch on a real Nginx (loadBalancer.kind: nginx)', () => {
  const nodes = ['node-1', 'node-2', 'node-3'].map((name) => new FakeNode(name));
  let config: MaintenanceConfig;
  let deps: WorkerDeps;
  let activities: Activities;
  const site = () => nginxEnv().url;

  before(async () => {
    const ports = await Promise.all(nodes.map((node) => node.listen()));
    config = nginxStackConfig((standin) => {
      dockerNodesOf(standin).forEach((node, index) => (node.healthUrl = `http://127.0.0.1:${ports[index]}/api/__health_check`));
      standin.timeouts.loadBalancerReady = 30_000;
    });
    await resetNginx(config);
    deps = stackDeps(config);
    activities = createActivities(deps);
  });

  after(async () => {
    await deps?.close();
    await Promise.all(nodes.map((node) => node.close()));
    await resetNginx();
  });

  it('answers 503 with the maintenance page while every server is out of the upstream', async () => {
    const response = await get(site());
    assert.equal(response.status, 503);
    assert.match(response.body, /maintenance/i);
  });

  it('puts nodes in the upstream through the include and a reload that took, and reports them UP once their health URL answers', async () => {
    const before = includeState().generation;
    const states = await runActivity(activities.setLoadBalancerServers, { cluster, nodes: ['node-1', 'node-2'], state: 'ready' });
    assert.deepEqual(states.map(({ server, status }) => ({ server, status })), [{ server: 'node-1', status: 'UP' }, { server: 'node-2', status: 'UP' }]);
    const written = includeState();
    assert.ok(written.generation > before, 'a change raises the generation');
    assert.equal(await generationServed(), written.generation, 'the running workers read the new include');
    assert.deepEqual(written.servers.map(({ server, state }) => `${server} ${state}`), ['node-1 ready', 'node-2 ready', 'node-3 maint']);

    const answered = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const response = await get(site());
      assert.equal(response.status, 200);
      answered.add(response.node ?? '?');
    }
    assert.deepEqual([...answered].sort(), ['node-1', 'node-2']);

    nodes[1]!.healthy = false;
    const [only] = await runActivity(activities.setLoadBalancerServers, { cluster, nodes: ['node-2'], state: 'ready' });
    assert.equal(only?.status, 'DOWN', 'no active health checks in Nginx OSS: the node\'s own health URL says');
    nodes[1]!.healthy = true;
    const serving = await runActivity(activities.waitLoadBalancerServing, { cluster, nodes: ['node-1', 'node-2'] });
    assert.deepEqual(serving.map(({ status }) => status), ['UP', 'UP']);
  });

  it('does not rewrite or reload when the include already says so (idempotent)', async () => {
    const before = includeState().generation;
    const text = readFileSync(nginxEnv().include, 'utf8');
    await runActivity(activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'ready' });
    await runActivity(activities.setMaintenanceMode, { cluster, on: false });
    assert.equal(includeState().generation, before);
    assert.equal(readFileSync(nginxEnv().include, 'utf8'), text);
  });

  it('switches the site to the 503 maintenance page and back', async () => {
    await runActivity(activities.setMaintenanceMode, { cluster, on: true });
    const during = await get(site());
    assert.equal(during.status, 503);
    assert.match(during.body, /maintenance/i);
    assert.equal(includeState().maintenance, true);
    await runActivity(activities.setMaintenanceMode, { cluster, on: false });
    assert.equal((await get(site())).status, 200);
  });

  it('puts the previous include back and fails as LoadBalancerError (not retried) when nginx -t refuses the new one', async () => {
    const text = readFileSync(nginxEnv().include, 'utf8');
    const served = await generationServed();
    // A node whose address Nginx cannot resolve: `nginx -t` says "host not found in upstream".
    const broken = createActivities(
      stackDeps(
        nginxStackConfig((standin) => {
          dockerNodesOf(standin).forEach((node, index) => (node.healthUrl = dockerNodesOf(config.clusters.standin!)[index]!.healthUrl));
          dockerNodesOf(standin)[2]!.healthUrl = 'http://no-such-node.invalid:13000/api/__health_check';
        }),
      ),
    );
    const error = await runActivity(broken.setLoadBalancerServers, { cluster, nodes: ['node-3'], state: 'ready' }).catch((caught: unknown) => caught);
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.type, FailureType.LoadBalancerError);
    assert.equal(error.nonRetryable, true);
    assert.match(error.message, /host not found/);
    assert.equal(readFileSync(nginxEnv().include, 'utf8'), text, 'the include is as it was, byte for byte');
    assert.equal(await generationServed(), served, 'Nginx was not reloaded');
    assert.equal((await get(site())).status, 200, 'the site still serves');
  });

  it('reports a drained server only once the old workers have finished the requests they had', async () => {
    await runActivity(activities.setLoadBalancerServers, { cluster, nodes: ['node-2', 'node-3'], state: 'maint' });
    const inFlight = get(`${site()}/hold`).then(({ status, body }) => ({ status, body }));
    await until(10_000, () => nodes[0]!.held.length === 1, 'the request reached node-1');

    const states = await runActivity(activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'drain' });
    assert.equal(states[0]?.status, 'DRAIN');
    assert.ok((states[0]?.sessions ?? 0) >= 1, 'the old worker still holds the request');
    let released = false;
    const drained = runActivity(activities.waitServersDrained, { cluster, nodes: ['node-1'] }).then((result) => {
      assert.equal(released, true, 'drained before the in-flight request finished');
      return result;
    });
    // Give the wait a look at the busy worker before letting the request go.
    await until(10_000, async () => (await trafficSwitch(deps, cluster).statuses([{ node: config.clusters.standin!.nodes[0]!, server: 'node-1' }]))[0]!.sessions >= 1, 'busy');
    released = true;
    nodes[0]!.release();
    assert.deepEqual(await inFlight, { status: 200, body: 'started finished' }, 'the request was finished, not cut');
    const result = await drained;
    assert.deepEqual(result.map(({ server, sessions }) => ({ server, sessions })), [{ server: 'node-1', sessions: 0 }]);
    assert.equal((await get(site())).status, 503, 'no server left: the maintenance page');
  });

  it('puts back a hand edit of the include and reloads (the hold)', async () => {
    await runActivity(activities.setLoadBalancerServers, { cluster, nodes: ['node-1'], state: 'ready' });
    const file = nginxEnv().include;
    writeFileSync(file, readFileSync(file, 'utf8').replace(/server (\S+); # node-1 ready/, 'server $1 down; # node-1 ready'));
    const drifts = await trafficSwitch(deps, cluster).reassert({
      maintenance: false,
      servers: [{ server: { node: config.clusters.standin!.nodes[0]!, server: 'node-1' }, state: 'ready' }],
    });
    assert.deepEqual(drifts, [`server standin/node-1 was maint in ${file}, written ready`]);
    assert.equal(includeState().servers[0]?.state, 'ready');
    assert.equal(await generationServed(), includeState().generation);
    assert.equal((await get(site())).node, 'node-1');
  });

  it('comes back from a restart as the last procedure left it: it reads the same include', async () => {
    await runActivity(activities.setMaintenanceMode, { cluster, on: true });
    const left = includeState();
    // What a terminated run's leftover check reads, and the recovery it prints.
    assert.equal(await trafficSwitch(deps, cluster).maintenance(), true);
    assert.match(trafficSwitch(deps, cluster).maintenanceRecovery(), new RegExp(`Nginx include ${nginxEnv().include}: change the line .map \\$host \\$standin_maintenance`));
    await stopNginx();
    assert.equal(await generationServed(), null, 'Nginx is down');
    await stackUpNginx();
    assert.deepEqual(includeState(), left, 'the start kept the include');
    assert.equal(await generationServed(), left.generation);
    const during = await get(site());
    assert.equal(during.status, 503, 'still in maintenance');
    assert.match(during.body, /maintenance/i);
    await runActivity(activities.setMaintenanceMode, { cluster, on: false });
    const response = await get(site());
    assert.equal(response.status, 200);
    assert.equal(response.node, 'node-1', 'node-1 still the one in the upstream');
  });
});

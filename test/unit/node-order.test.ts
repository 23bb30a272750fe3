import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appNodes, describeStartOrder, orderNodes, startOrder, type RoledNode } from '../../src/common/node-order';

const names = (nodes: RoledNode[]) => nodes.map((node) => node.name);

describe('node order (service splitting)', () => {
  it('puts the first app node first, then the other app nodes, then the workers, config order within each', () => {
    const order = orderNodes([
      { name: 'w1', role: 'worker' },
      { name: 'a1', role: 'app' },
      { name: 'w2', role: 'worker' },
      { name: 'a2' },
      { name: 'a3', role: 'app' },
    ]);
    assert.equal(order.first?.name, 'a1');
    assert.deepEqual(names(order.otherApps), ['a2', 'a3']);
    assert.deepEqual(names(order.workers), ['w1', 'w2']);
    assert.deepEqual(names(appNodes(order)), ['a1', 'a2', 'a3']);
    assert.deepEqual(names(startOrder(order)), ['a1', 'a2', 'a3', 'w1', 'w2']);
  });

  it('treats a node without a role as an app node, so plans recorded before roles keep their order', () => {
    const order = orderNodes([{ name: 'node-1' }, { name: 'node-2' }, { name: 'node-3' }]);
    assert.deepEqual(names(startOrder(order)), ['node-1', 'node-2', 'node-3']);
    assert.deepEqual(order.workers, []);
  });

  it('has no first node when every node is a worker, and the dry run shows no order', () => {
    const nodes: RoledNode[] = [{ name: 'w1', role: 'worker' }];
    assert.equal(orderNodes(nodes).first, undefined);
    assert.deepEqual(appNodes(orderNodes(nodes)), []);
    assert.deepEqual(describeStartOrder(nodes), []);
  });

  it('describes the order a dry run shows, workers last and out of the load balancer', () => {
    const lines = describeStartOrder([{ name: 'w1', role: 'worker' }, { name: 'a1' }, { name: 'a2' }]);
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^a1 \(app\): first and alone/);
    assert.match(lines[1]!, /^a2 \(app\): once a1 is ready/);
    assert.match(lines[2]!, /^w1 \(worker\): last.*never in the load balancer/);
  });
});

import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import { budgetSpent, checkFleetInput, fleetApprovers, memberProblems, planWaves, selectClusters, type FleetMember } from '../../src/procedures/fleet-upgrade';

const IMAGE = 'registry.test/nocobase:1.7.0';

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure && error.type === FailureType.InvalidInput, `expected InvalidInput, got ${String(error)}`);
    return error.message;
  }
  return assert.fail('expected a refusal');
}

describe('fleet waves', () => {
  it('puts the canary alone first, then batches of batchSize in the given order', () => {
    assert.deepEqual(planWaves(['a', 'b', 'c', 'd', 'e', 'f'], undefined, 2), [['a'], ['b', 'c'], ['d', 'e'], ['f']]);
  });

  it('takes a named canary out of the batches, and none at all with canary false', () => {
    assert.deepEqual(planWaves(['a', 'b', 'c', 'd'], 'c', 3), [['c'], ['a', 'b', 'd']]);
    assert.deepEqual(planWaves(['a', 'b', 'c'], false, 3), [['a', 'b', 'c']]);
  });

  it('refuses a canary that is not in the fleet', () => {
    assert.match(refusal(() => planWaves(['a', 'b'], 'z', 1)), /canary z is not one of the fleet's clusters/);
  });
});

describe('fleet selector', () => {
  const configured: Array<{ name: string; labels: Record<string, string> }> = [
    { name: 'eu-2', labels: { region: 'eu', tier: 'gold' } },
    { name: 'us-1', labels: { region: 'us', tier: 'gold' } },
    { name: 'eu-1', labels: { region: 'eu' } },
  ];

  it('picks the clusters whose labels include every selected one, in name order', () => {
    assert.deepEqual(selectClusters(configured, { region: 'eu' }), ['eu-1', 'eu-2']);
    assert.deepEqual(selectClusters(configured, { region: 'eu', tier: 'gold' }), ['eu-2']);
    assert.deepEqual(selectClusters(configured, { region: 'asia' }), []);
  });
});

describe('fleet failure budget', () => {
  it('stops at the first cluster not upgraded by default; skips and successes cost nothing', () => {
    assert.equal(budgetSpent(['upgraded', 'skipped', 'running'], 0), false);
    assert.equal(budgetSpent(['upgraded', 'rolled-back'], 0), true);
    assert.equal(budgetSpent(['refused'], 0), true);
  });

  it('tolerates as many rollbacks and failures as the budget says', () => {
    assert.equal(budgetSpent(['rolled-back', 'upgraded'], 1), false);
    assert.equal(budgetSpent(['rolled-back', 'failed'], 1), true);
  });
});

describe('fleet input', () => {
  it('fills in the defaults: batches of 5, as many at once, budget 0, the approval between waves off', () => {
    const input = checkFleetInput({ name: 'eu', selector: { region: 'eu' }, image: IMAGE });
    assert.equal(input.batchSize, 5);
    assert.equal(input.maxParallel, 5);
    assert.equal(input.failureBudget, 0);
    assert.equal(input.approveBetweenWaves, false);
    assert.equal(input.watchEveryMs, 30_000);
  });

  it('refuses both or neither of clusters and selector, duplicates, unknown keys and bad numbers', () => {
    assert.match(refusal(() => checkFleetInput({ name: 'eu', image: IMAGE })), /exactly one of "clusters"/);
    assert.match(refusal(() => checkFleetInput({ name: 'eu', clusters: ['a'], selector: {}, image: IMAGE })), /exactly one of "clusters"/);
    assert.match(refusal(() => checkFleetInput({ name: 'eu', clusters: ['a', 'a'], image: IMAGE })), /names a more than once/);
    assert.match(refusal(() => checkFleetInput({ name: 'eu', clusters: ['a'], image: IMAGE, batchsize: 2 })), /unknown key\(s\) batchsize/);
    assert.match(refusal(() => checkFleetInput({ name: 'eu', clusters: ['a'], image: IMAGE, maxParallel: 0 })), /"maxParallel" must be an integer >= 1/);
    assert.match(refusal(() => checkFleetInput({ name: 'EU', clusters: ['a'], image: IMAGE })), /"name"/);
  });

  it('checks every image and the pass-through upgrade options as versionUpgrade checks them', () => {
    assert.match(refusal(() => checkFleetInput({ name: 'eu', clusters: ['a'], image: 'nocobase' })), /explicit tag or digest/);
    assert.match(refusal(() => checkFleetInput({ name: 'eu', clusters: ['a'], image: IMAGE, images: { a: 'nocobase' } })), /explicit tag or digest/);
    assert.match(refusal(() => checkFleetInput({ name: 'eu', clusters: ['a'], image: IMAGE, upgrade: { approval: { onTimeout: 'later' } } })), /onTimeout/);
    assert.match(refusal(() => checkFleetInput({ name: 'eu', clusters: ['a'], image: IMAGE, upgrade: { cluster: 'b' } })), /unknown "upgrade" key\(s\) cluster/);
  });
});

describe('fleet approvers and policies', () => {
  const policy = { mode: 'open' as const, minApprovals: 1, twoPersonRule: false, allowProceedOnTimeout: false, links: false };
  const members: FleetMember[] = [
    { name: 'a', labels: {}, approvers: ['alice', 'bob'], approvalPolicy: policy },
    { name: 'b', labels: {}, approvers: ['bob', 'carol'], approvalPolicy: { ...policy, allowProceedOnTimeout: true } },
  ];

  it('lets every cluster\'s approvers decide between waves unless the fleet names its own', () => {
    assert.deepEqual(fleetApprovers({ approvers: undefined }, members), ['alice', 'bob', 'carol']);
    assert.deepEqual(fleetApprovers({ approvers: ['dave'] }, members), ['dave']);
  });

  it('refuses onTimeout proceed on the clusters whose policy does not allow it, before anything starts', () => {
    const problems = memberProblems(members, { upgrade: { approval: { timeout: '1m', onTimeout: 'proceed' } }, startedBy: undefined });
    assert.deepEqual(problems.map((problem) => problem.cluster), ['a']);
    assert.match(problems[0]!.message, /allowProceedOnTimeout/);
    assert.deepEqual(memberProblems(members, { upgrade: {}, startedBy: undefined }), []);
  });
});

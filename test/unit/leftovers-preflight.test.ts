import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FailureType } from '../../src/common/failure-types';
import type { Leftover } from '../../src/common/leftovers';
import { procedureWorkflowId } from '../../src/common/task-queue';
import { leftoverProblems } from '../../src/procedures/leftovers';
import type { DryRunPlan } from '../../src/workflows/dry-run';
import { failWith, mockCluster } from '../support/mock-cluster';
import { startUnitEnvironment, withMockedWorker } from '../support/unit-environment';
import { notReads } from '../support/preflight-reads';

// A terminated or reset run runs no undo: every procedure's pre-flight must find what it left and
// refuse before touching anything, and the dry run must say the same.

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startUnitEnvironment();
});
after(async () => {
  await env?.teardown();
});

const LEFTOVERS: Leftover[] = [
  { kind: 'saved-container', name: 'c-node-1-pre-0123456789ab', createdAt: '2026-11-20T02:03:04.000Z', recovery: 'remove it: `DOCKER_HOST=unix:///d docker rm c-node-1-pre-0123456789ab`' },
  { kind: 'set-aside-database', name: 'nocobase_rb_0123456789ab', recovery: 'put it back: `ALTER DATABASE "nocobase_rb_0123456789ab" RENAME TO "nocobase";`' },
  { kind: 'maintenance-on', name: 'demo', recovery: "turn it off: `echo 'set map /m demo off' | socat stdio unix-connect:/s`" },
];

/** Each procedure with an input it would otherwise run with, on a cluster as it needs it. */
const PROCEDURES = [
  { workflow: 'firstStart', input: {}, running: false },
  { workflow: 'versionUpgrade', input: { image: 'registry.test/nocobase:1.7.0' }, running: true },
  { workflow: 'inAppMaintenance', input: { operations: [{ type: 'pm', args: ['enable', 'map'] }] }, running: true },
] as const;

function cluster(running: boolean, overrides: Parameters<typeof mockCluster>[1]) {
  const mock = mockCluster(`unit-${randomUUID().slice(0, 8)}`, overrides);
  for (const node of mock.plan.nodes) Object.assign(node, { running, state: running ? 'running' : 'created' });
  return mock;
}

function run(mock: ReturnType<typeof mockCluster>, workflow: string, input: Record<string, unknown>): Promise<unknown> {
  return withMockedWorker(env, mock.activities, (taskQueue) =>
    env.client.workflow.execute(workflow, { taskQueue, workflowId: procedureWorkflowId(mock.plan.cluster), args: [{ cluster: mock.plan.cluster, ...input }] }),
  );
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(() => assert.fail('expected the workflow to fail'), (caught: unknown) => caught);
  assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error.cause;
}

const asked = (calls: string[]) => calls.filter((call) => !call.endsWith(':done') && call !== 'sendNotification');

describe('leftovers of interrupted runs', () => {
  for (const { workflow, input, running } of PROCEDURES) {
    it(`make ${workflow} refuse with LeftoversFound before touching anything, naming each leftover and its recovery`, async () => {
      const mock = cluster(running, { findLeftovers: async () => LEFTOVERS });
      const failure = await failureOf(run(mock, workflow, input));

      assert.equal(failure.type, FailureType.LeftoversFound);
      for (const leftover of LEFTOVERS) {
        assert.ok(failure.message.includes(leftover.name), `${leftover.name} missing from: ${failure.message}`);
        assert.ok(failure.message.includes(leftover.recovery), `the recovery of ${leftover.name} missing from: ${failure.message}`);
      }
      assert.match(failure.message, /Nothing was touched/);
      // The pre-flight's own failure, wrapped by the runner as every failure is, keeps them as data.
      assert.ok(failure.cause instanceof ApplicationFailure && failure.cause.type === FailureType.LeftoversFound, String(failure.cause));
      assert.deepEqual((failure.cause.details as [{ leftovers: Leftover[] }])[0].leftovers, LEFTOVERS);
      assert.match(failure.message, /failed at step preflight/);
      // Nothing but the pre-flight's reads.
      assert.ok(asked(mock.calls).includes('findLeftovers'), asked(mock.calls).join(' '));
      assert.deepEqual(notReads(asked(mock.calls)), []);
    });

    it(`make ${workflow}'s dry run list the refusal the real pre-flight fails with`, async () => {
      const mock = cluster(running, { findLeftovers: async () => LEFTOVERS });
      const plan = (await run(mock, workflow, { ...input, dryRun: true })) as DryRunPlan;
      const real = await failureOf(run(mock, workflow, input));
      const [judged] = leftoverProblems({ plan: mock.plan, leftovers: LEFTOVERS });
      assert.ok(judged);
      assert.equal(plan.problems[0], judged.message);
      assert.equal((real.cause as ApplicationFailure).message, judged.message);
    });
  }

  it('are not a problem when there are none: the procedure goes on to the invariants and its steps', async () => {
    const mock = cluster(false, {});
    await run(mock, 'firstStart', {});
    const calls = asked(mock.calls);
    assert.deepEqual([...calls.slice(0, 5)].sort(), ['checkBlackout', 'checkClusterInvariants', 'checkDatabase', 'describeCluster', 'findLeftovers'], 'the reads first, all of them');
    assert.ok(calls.includes('startNode:node-1'));
  });

  it('are judged before the invariants, though all the reads run at once: nodes on two images are explained by the leftovers', async () => {
    const twoImages = () => failWith(FailureType.ClusterInvariantViolated, 'node-2 runs registry.test/nocobase:1.7.0, the others 1.6.0');
    const mock = cluster(true, { findLeftovers: async () => LEFTOVERS, checkClusterInvariants: twoImages });
    const failure = await failureOf(run(mock, 'versionUpgrade', { image: 'registry.test/nocobase:1.7.0' }));
    assert.ok(asked(mock.calls).includes('checkClusterInvariants'), 'the invariants were read too');
    assert.equal(failure.type, FailureType.LeftoversFound, failure.message);
  });

  it('refuse before a read that failed after them is reported, and after a read judged before them', async () => {
    const down = () => failWith(FailureType.DatabaseUnreachable, 'connect ECONNREFUSED 10.0.0.5:5432');
    const leftoversFirst = await failureOf(run(cluster(true, { findLeftovers: async () => LEFTOVERS, checkDatabase: down }), 'versionUpgrade', { image: 'registry.test/nocobase:1.7.0' }));
    assert.equal(leftoversFirst.type, FailureType.LeftoversFound, leftoversFirst.message);
    const plan = () => failWith(FailureType.DatabaseUnreachable, 'docker: connect ECONNREFUSED /var/run/docker.sock');
    const planFirst = await failureOf(run(cluster(true, { findLeftovers: async () => LEFTOVERS, describeCluster: plan }), 'versionUpgrade', { image: 'registry.test/nocobase:1.7.0' }));
    assert.match(planFirst.message, /docker\.sock/, 'the plan is judged before the leftovers');
  });

  it('that cannot be read fail the real pre-flight but are one more problem in the dry run', async () => {
    const unreadable = () => failWith(FailureType.DatabaseUnreachable, 'connect ECONNREFUSED 10.0.0.5:5432');
    const failure = await failureOf(run(cluster(true, { findLeftovers: unreadable }), 'versionUpgrade', { image: 'registry.test/nocobase:1.7.0' }));
    assert.equal(failure.type, FailureType.DatabaseUnreachable);

    const plan = (await run(cluster(true, { findLeftovers: unreadable }), 'versionUpgrade', { image: 'registry.test/nocobase:1.7.0', dryRun: true })) as DryRunPlan;
    assert.deepEqual(plan.problems, ['leftovers: connect ECONNREFUSED 10.0.0.5:5432']);
  });
});

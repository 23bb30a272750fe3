import type { Context } from '@temporalio/activity';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIVENESS_INTERVAL_MS, livenessHeartbeat } from '../../src/worker/liveness-heartbeat';

/** Between one tick and two. */
const ONE_TICK = LIVENESS_INTERVAL_MS * 1.5;

/** A stand-in for the SDK's activity context: only what the interceptor touches. */
function fakeContext(previousAttempt: unknown, isLocal = false): { context: Context; sent: unknown[] } {
  const sent: unknown[] = [];
  const context = { info: { heartbeatDetails: previousAttempt, isLocal }, heartbeat: (details?: unknown) => sent.push(details) } as unknown as Context;
  return { context, sent };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the liveness heartbeat every activity gets from the worker', () => {
  it('heartbeats an activity that says nothing itself, repeating the previous attempt\'s checkpoint', { timeout: 20_000 }, async () => {
    const { context, sent } = fakeContext({ startedAt: 42 });
    const result = await livenessHeartbeat(context).inbound!.execute!({ args: [], headers: {} }, async () => {
      await sleep(ONE_TICK);
      return 'done';
    });
    assert.equal(result, 'done');
    assert.deepEqual(sent, [{ startedAt: 42 }], 'one tick in 1.5 intervals, carrying the checkpoint a retry reads');
  });

  it('repeats the activity\'s own last details, never overwriting its checkpoint with nothing, and stops with the activity', { timeout: 20_000 }, async () => {
    const { context, sent } = fakeContext(undefined);
    await livenessHeartbeat(context).inbound!.execute!({ args: [], headers: {} }, async () => {
      context.heartbeat({ commandId: 'c-1', exitCode: 0 });
      await sleep(ONE_TICK);
    });
    assert.deepEqual(sent, [{ commandId: 'c-1', exitCode: 0 }, { commandId: 'c-1', exitCode: 0 }]);
    await sleep(ONE_TICK);
    assert.equal(sent.length, 2, 'no tick after the activity ended');
  });

  it('leaves a local activity alone: it has no heartbeat, its workflow task notices a dead worker', { timeout: 20_000 }, async () => {
    const { context, sent } = fakeContext(undefined, true);
    const result = await livenessHeartbeat(context).inbound!.execute!({ args: [], headers: {} }, async () => {
      await sleep(ONE_TICK);
      return 'done';
    });
    assert.equal(result, 'done');
    assert.deepEqual(sent, [], 'no tick for a local activity');
  });
});

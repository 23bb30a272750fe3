import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { stopContainerUntilGone } from '../../src/adapters/docker/containers';

/**
 * An Engine whose stop answers before the process is gone (what an Engine that lost track of a
 * process, or a stop interrupted by a restart policy, looks like): only the inspect shows it.
 */
function engine(options: { killWorks: boolean; termEndsPid1?: boolean; termBeneathEnds?: boolean }) {
  const calls: string[] = [];
  let state = { Running: true, Pid: 4242, Status: 'running' };
  const exited = () => (state = { Running: false, Pid: 0, Status: 'exited' });
  const container = {
    stop: async (opts: { t: number }) => {
      calls.push(`stop t=${opts.t}`);
    },
    inspect: async () => {
      calls.push('inspect');
      return { State: { ...state } };
    },
    kill: async (opts: { signal: string }) => {
      calls.push(`kill ${opts.signal}`);
      if (!state.Running) throw Object.assign(new Error('not running'), { statusCode: 409 });
      if (opts.signal === 'SIGKILL' ? options.killWorks : options.termEndsPid1) exited();
    },
    // `docker exec`: records the command; the process beneath PID 1 ending takes the container with it.
    exec: async (opts: { Cmd: string[] }) => {
      calls.push(`exec ${opts.Cmd.join(' ')}`);
      if (options.termBeneathEnds) exited();
      throw new Error('the fake engine runs no exec');
    },
  };
  const docker = { getContainer: () => container } as unknown as Docker;
  return { docker, calls, stopped: exited };
}

const fromStop = (calls: string[]) => calls.slice(calls.findIndex((call) => call.startsWith('stop')));

describe('stopContainerUntilGone', () => {
  it('asks the Engine to stop with the configured seconds and trusts nothing but the inspect', async () => {
    const fake = engine({ killWorks: true });
    const outcome = await stopContainerUntilGone(fake.docker, 'node', 7);
    assert.deepEqual(fromStop(fake.calls).slice(0, 3), ['stop t=7', 'inspect', 'kill SIGKILL']);
    assert.deepEqual(outcome, { killed: true, gone: true, status: 'exited', pid: 0 });
  });

  it('does not kill a container whose process is gone after the stop', async () => {
    const fake = engine({ killWorks: true });
    fake.stopped();
    const outcome = await stopContainerUntilGone(fake.docker, 'node', 30);
    assert.deepEqual(fake.calls, ['kill SIGTERM', 'stop t=30', 'inspect']);
    assert.deepEqual(outcome, { killed: false, gone: true, status: 'exited', pid: 0 });
  });

  it('signals the processes beneath a PID 1 that ignores SIGTERM (an entrypoint shell), before docker stop waits out its grace', async () => {
    const fake = engine({ killWorks: true, termBeneathEnds: true });
    const outcome = await stopContainerUntilGone(fake.docker, 'node', 30);
    assert.equal(fake.calls[0], 'kill SIGTERM');
    assert.ok(fake.calls.indexOf('exec sh -c kill -TERM -1') < fake.calls.indexOf('stop t=30'), fake.calls.join(', '));
    assert.ok(!fake.calls.includes('kill SIGKILL'), fake.calls.join(', '));
    assert.deepEqual(outcome, { killed: false, gone: true, status: 'exited', pid: 0 });
  });

  it('leaves the processes beneath alone when PID 1 ends on SIGTERM', async () => {
    const fake = engine({ killWorks: true, termEndsPid1: true });
    const outcome = await stopContainerUntilGone(fake.docker, 'node', 30);
    assert.ok(!fake.calls.some((call) => call.startsWith('exec')), fake.calls.join(', '));
    assert.deepEqual(outcome, { killed: false, gone: true, status: 'exited', pid: 0 });
  });

  it('reports a process that survives the kill instead of claiming it stopped', async () => {
    const fake = engine({ killWorks: false });
    const outcome = await stopContainerUntilGone(fake.docker, 'node', 1);
    assert.deepEqual(outcome, { killed: true, gone: false, status: 'running', pid: 4242 });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { stopContainerUntilGone } from '../../src/adapters/docker/containers';

/**
 * An Engine whose stop answers before the process is gone (what an Engine that lost track of a
 * process, or a stop interrupted by a restart policy, looks like): only the inspect shows it.
 */
function engine(options: { killWorks: boolean }) {
  const calls: string[] = [];
  let state = { Running: true, Pid: 4242, Status: 'running' };
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
      if (options.killWorks) state = { Running: false, Pid: 0, Status: 'exited' };
    },
  };
  const docker = { getContainer: () => container } as unknown as Docker;
  return { docker, calls, stopped: () => { state = { Running: false, Pid: 0, Status: 'exited' }; } };
}

describe('stopContainerUntilGone', () => {
  it('asks the Engine to stop with the configured seconds and trusts nothing but the inspect', async () => {
    const fake = engine({ killWorks: true });
    const outcome = await stopContainerUntilGone(fake.docker, 'node', 7);
    assert.deepEqual(fake.calls.slice(0, 3), ['stop t=7', 'inspect', 'kill SIGKILL']);
    assert.deepEqual(outcome, { killed: true, gone: true, status: 'exited', pid: 0 });
  });

  it('does not kill a container whose process is gone after the stop', async () => {
    const fake = engine({ killWorks: true });
    fake.stopped();
    const outcome = await stopContainerUntilGone(fake.docker, 'node', 30);
    assert.deepEqual(fake.calls, ['stop t=30', 'inspect']);
    assert.deepEqual(outcome, { killed: false, gone: true, status: 'exited', pid: 0 });
  });

  it('reports a process that survives the kill instead of claiming it stopped', async () => {
    const fake = engine({ killWorks: false });
    const outcome = await stopContainerUntilGone(fake.docker, 'node', 1);
    assert.deepEqual(outcome, { killed: true, gone: false, status: 'running', pid: 4242 });
  });
});

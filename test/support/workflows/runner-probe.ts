// A workflow that exists only for the runner's unit tests: three steps that each start a node and
// push its undo, with the failure, the answer or the wait a test asks for. Bundled on its own, so
// the worker's bundle never contains it.
import { ApplicationFailure, condition } from '@temporalio/workflow';
import { FailureType } from '../../../src/common/failure-types';
import type { ProcedureDescriptor } from '../../../src/procedures/descriptor';
import { checkInput, type CheckedCommon, type CommonInput } from '../../../src/procedures/input-checks';
import { longRunning, quick } from '../../../src/workflows/activity-options';
import { inParallel } from '../../../src/workflows/node-rollout';
import { runProcedure } from '../../../src/workflows/procedure';

export interface RunnerProbeInput extends CommonInput {
  failAt?: 'one' | 'two' | 'three';
  /** Fail the last step with a type the procedure treats as an answer. */
  answer?: boolean;
  /** Wait in the last step until cancelled. */
  wait?: boolean;
  undoFailureIsFatal?: boolean;
  /** Step three starts nodes 3 and 4 in parallel; node 4's start fails, node 3's waits for heartbeats. */
  parallel?: boolean;
  /** Users reach the new state after step two; step three then fails. */
  pointOfNoReturn?: boolean;
}

type Checked = CheckedCommon & RunnerProbeInput;
const STEPS = ['one', 'two', 'three', 'notify'] as const;

const PROBE: ProcedureDescriptor<Checked, (typeof STEPS)[number]> = {
  name: 'firstStart',
  steps: STEPS,
  checkInput: (raw) => checkInput<RunnerProbeInput>(raw, ['failAt', 'answer', 'wait', 'undoFailureIsFatal', 'parallel', 'pointOfNoReturn']),
  summary: (input) => `probe of ${input.cluster}`,
  asksApproval: false,
  probesHealth: false,
  problems: () => [],
  planOf: () => ({}),
};

export async function runnerProbe(raw: RunnerProbeInput): Promise<unknown> {
  const input = PROBE.checkInput(raw);
  const { cluster } = input;
  return runProcedure({
    descriptor: PROBE,
    input,
    undoFailureIsFatal: input.undoFailureIsFatal ?? true,
    wording: { title: `the probe of ${cluster}`, undone: 'was undone', undoFailed: 'the undo failed', subject: (broken, step) => `probe ${broken ? 'BROKEN' : 'failed'} at ${step}` },
    answers: { rejectedType: FailureType.UpgradeRejected, outcome: 'rolled-back', result: (_run, notification) => ({ outcome: 'rolled-back', notification }) },
    async steps({ step, undo, pointOfNoReturn }) {
      for (const [index, name] of (['one', 'two', 'three'] as const).entries()) {
        const node = `node-${index + 1}`;
        await step(name, async () => {
          undo(`stop ${node}`, () => quick.stopNode({ cluster, node }), { restores: 'stopped' });
          await quick.startNode({ cluster, node });
          if (name === 'two' && input.pointOfNoReturn) pointOfNoReturn('traffic is back');
          if (name !== 'three') return;
          if (input.parallel) {
            await inParallel(['node-3', 'node-4'], async (branch) => {
              undo(`stop ${branch}`, () => quick.stopNode({ cluster, node: branch }));
              await quick.startNode({ cluster, node: branch });
              await longRunning.waitNodeReady({ cluster, node: branch, requirePlugins: false });
            });
          }
          if (input.pointOfNoReturn) throw ApplicationFailure.nonRetryable('the public URL answers 503', FailureType.LoadBalancerNotServing);
          if (input.wait) await condition(() => false);
          if (input.answer) throw ApplicationFailure.nonRetryable('rejected by alice', FailureType.UpgradeRejected);
        });
        if (input.failAt === name) throw ApplicationFailure.nonRetryable(`${name} broke`, FailureType.NodeExited);
      }
      return { mail: () => ({ subject: 'probe done', text: 'done' }), result: (notification) => ({ outcome: 'done', notification }) };
    },
  });
}

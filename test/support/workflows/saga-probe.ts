import type { CompensationOutcome } from '../../../src/common/procedure-types';
import { Saga, type UndoOptions } from '../../../src/workflows/saga';

export interface SagaProbeInput {
  /** Pushed in this order; each undo records its name when it runs. */
  undos: ({ step: string } & UndoOptions)[];
}

/** Pushes the given undos on a Saga and compensates: the order they ran in and their outcomes. */
export async function sagaProbe(input: SagaProbeInput): Promise<{ ran: string[]; outcomes: CompensationOutcome[] }> {
  const saga = new Saga();
  const ran: string[] = [];
  for (const { step, ...options } of input.undos) {
    saga.push(step, async () => {
      ran.push(step);
    }, options);
  }
  const outcomes = await saga.compensate({ deadlineMs: 1_000, dataLossConfirmed: false });
  return { ran, outcomes };
}

import { defineQuery } from '@temporalio/workflow';
import type { CompensationOutcome } from '../common/procedure-types';

/** Signals, queries and updates: defined once here, imported by workflows, scripts and tests. */

export type ProcedureName = 'firstStart';

export type NodeState = 'stopped' | 'starting' | 'ready' | 'stopping' | 'failed';

export interface ProcedureStatus {
  procedure: ProcedureName;
  cluster: string;
  /** The step running now, or the last one when the procedure has ended. */
  step: string;
  outcome: 'running' | 'succeeded' | 'failed' | 'compensating';
  nodes: Record<string, { container: string; image?: string; state: NodeState }>;
  /** What the procedure waits for, in words, when it waits. */
  waitingFor?: string;
  steps: { step: string; startedAt: string; endedAt?: string }[];
  error?: { type: string; message: string };
  compensations?: CompensationOutcome[];
}

/** `temporal workflow query --name status` */
export const statusQuery = defineQuery<ProcedureStatus>('status');

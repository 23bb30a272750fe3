import { FailureType } from '../common/failure-types';
import { dryRunSuffix, type ProcedureDescriptor } from './descriptor';
import { checkInput, type CheckedCommon, type CommonInput } from './input-checks';

/** `{ "cluster": "demo" }`, plus `dryRun` and `force` as every procedure. */
export type FirstStartInput = CommonInput;

export const FIRST_START_STEPS = ['preflight', 'start-first-node', 'start-other-nodes', 'enable-load-balancer', 'notify'] as const;

export type FirstStartStep = (typeof FIRST_START_STEPS)[number];

/**
 * First start: one node alone until it has installed the application and its plugins, then the
 * others, then traffic. Refused while any node runs: a node already serving means the cluster is
 * not new, and a second installer on one database corrupts it.
 */
export const FIRST_START: ProcedureDescriptor<CheckedCommon, FirstStartStep> = {
  name: 'firstStart',
  steps: FIRST_START_STEPS,
  checkInput: (raw) => checkInput<FirstStartInput>(raw, []),
  summary: (input) => `First start of ${input.cluster}${dryRunSuffix(input)}`,
  asksApproval: false,
  probesHealth: false,
  problems({ plan }) {
    const running = plan.nodes.filter((node) => node.running);
    if (running.length === 0) return [];
    return [{
      type: FailureType.ClusterNotStopped,
      message: `cluster ${plan.cluster} already has running nodes (${running.map((node) => node.name).join(', ')}); a first start needs every node stopped`,
    }];
  },
  planOf: () => ({}),
};

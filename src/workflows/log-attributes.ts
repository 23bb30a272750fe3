import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/**
 * A workflow interceptor module (bundled by src/worker/workflow-bundle.ts, not a workflow): every
 * line a procedure's workflow logs carries `cluster` (from its input) and `procedure` (its type)
 * beside the SDK's workflowId and runId, as its activities' lines do (src/worker/log-attributes.ts).
 * It reads the input and adds log attributes only: no command, so replays are unaffected.
 */
export const interceptors: WorkflowInterceptorsFactory = () => {
  // One factory call per workflow run: this is that run's state, set again when a replay re-runs it.
  let cluster: string | undefined;
  return {
    inbound: [{
      execute(input, next) {
        const candidate = (input.args[0] as { cluster?: unknown } | null | undefined)?.cluster;
        cluster = typeof candidate === 'string' ? candidate : undefined;
        return next(input);
      },
    }],
    outbound: [{
      getLogAttributes(attributes, next) {
        return next({ ...(cluster ? { cluster } : {}), procedure: workflowInfo().workflowType, ...attributes });
      },
    }],
  };
};

import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * Every line an activity logs (its own `log.info`, and the SDK's about it) names the procedure it
 * works for: `procedure` (the workflow type) and, when the activity's input names one, `cluster`;
 * the SDK adds workflowId, the run (`workflowRunId`) and activityType. The workflow's own lines get
 * the same from src/workflows/log-attributes.ts.
 */
export const procedureLogAttributes: ActivityInterceptorsFactory = (context: Context) => {
  let cluster: string | undefined;
  return {
    inbound: {
      execute(input, next) {
        cluster = clusterOf(input.args[0]);
        return next(input);
      },
    },
    outbound: {
      getLogAttributes(attributes, next) {
        const procedure = context.info.workflowType;
        return next({ ...(cluster ? { cluster } : {}), ...(procedure ? { procedure } : {}), ...attributes });
      },
    },
  };
};

/** Activities of a procedure take `{ cluster, … }`. */
function clusterOf(input: unknown): string | undefined {
  const cluster = (input as { cluster?: unknown } | null | undefined)?.cluster;
  return typeof cluster === 'string' ? cluster : undefined;
}

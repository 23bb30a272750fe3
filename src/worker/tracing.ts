import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, type OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { Tracing } from '../tracing/provider';

/**
 * The workflow side of tracing, bundled into the sandbox only when tracing is on
 * (src/worker/workflow-bundle.ts): a `RunWorkflow:<type>` span under the client's
 * `StartWorkflow:<type>`, a `StartActivity:<type>` per scheduled activity, `HandleSignal:`,
 * `HandleUpdate:`/`ValidateUpdate:` under the client call that sent them. Spans are data, not
 * commands, so a history replays the same with or without it (test/unit/replay.test.ts replays both).
 */
export const TRACING_WORKFLOW_INTERCEPTORS = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** The worker's share: a `RunActivity:<type>` span per attempt, and the sink that exports the sandbox's spans. */
export function workerTracing(tracing: Tracing): { activity: ActivityInterceptorsFactory[]; sinks: InjectedSinks<OpenTelemetrySinks> } {
  return {
    activity: [(context) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(context), outbound: new OpenTelemetryActivityOutboundInterceptor(context) })],
    // Not called while a workflow task replays: a span is exported once, when it really ended.
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}

import { context, propagation, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { tracingEnabled } from './provider';

/** Where @temporalio/interceptors-opentelemetry carries the trace context in a call's headers. */
const TRACE_HEADER = '_tracer-data';

/**
 * Runs `call` (a decision, a signal) inside the trace of the procedure's start, so one trace shows
 * an upgrade from the start through every step to the decision, though a person decides from
 * another process hours later. The start's trace context is in the header of the run's first
 * history event, where the client interceptor put it (headers are not encoded by the payload
 * codec). With tracing off, or a run started untraced, or a history that cannot be read, `call`
 * runs as it would have: tracing never stands in the way of a decision.
 */
export async function inProcedureTrace<T>(client: Client, execution: { workflowId: string; runId?: string }, call: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return call();
  const parent = await startContext(client, execution).catch(() => undefined);
  return parent ? context.with(parent, call) : call();
}

async function startContext(client: Client, execution: { workflowId: string; runId?: string }): Promise<Context | undefined> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: execution.workflowId, ...(execution.runId ? { runId: execution.runId } : {}) },
    maximumPageSize: 1,
  });
  const header = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.header?.fields?.[TRACE_HEADER];
  if (!header) return undefined;
  const carrier = defaultPayloadConverter.fromPayload<Record<string, string>>(header);
  return propagation.extract(ROOT_CONTEXT, carrier);
}

import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/**
 * Traces over OTLP/HTTP, on only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: unset, nothing here is constructed and no
 * interceptor is added, so a worker or a script without a collector pays nothing. The standard
 * OTEL_* variables apply (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_BSP_SCHEDULE_DELAY, …), read by the OpenTelemetry SDK itself.
 */
export const OTLP_ENDPOINT_ENV = 'OTEL_EXPORTER_OTLP_ENDPOINT';
const OTLP_TRACES_ENDPOINT_ENV = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';

/** Service names when OTEL_SERVICE_NAME is unset: which process wrote a span. */
export const SERVICE = {
  worker: 'nocobase-maintenance-worker',
  client: 'nocobase-maintenance-cli',
  approvalPage: 'nocobase-maintenance-approval-page',
} as const;

export interface Tracing {
  serviceName: string;
  resource: Resource;
  /** Where finished spans go; the worker hands it to its workflows' span sink too. */
  spanProcessor: SpanProcessor;
  /** Sends what is still buffered. A short-lived script calls it before it exits. */
  shutdown: () => Promise<void>;
}

export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env[OTLP_ENDPOINT_ENV]?.trim() || env[OTLP_TRACES_ENDPOINT_ENV]?.trim());
}

let installed: Tracing | undefined;

/**
 * The process's tracer provider, registered globally (W3C trace context, async-hooks context) the
 * first time it is asked for; later calls get the same one, whatever service name they suggest:
 * the process's entry point asks first (the worker, the approval page), a script's first client
 * connection otherwise. Undefined when tracing is off.
 */
export function tracingFromEnv(defaultServiceName: string, env: NodeJS.ProcessEnv = process.env): Tracing | undefined {
  if (installed) return installed;
  if (!tracingEnabled(env)) return undefined;
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || defaultServiceName;
  const resource = Resource.default().merge(envDetectorSync.detect()).merge(new Resource({ [ATTR_SERVICE_NAME]: serviceName }));
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  installed = { serviceName, resource, spanProcessor, shutdown: () => provider.shutdown() };
  return installed;
}

/** Flushes and stops the process's tracing, if any; never throws (a collector gone is not the caller's failure). */
export async function shutdownTracing(): Promise<void> {
  await installed?.shutdown().catch(() => undefined);
}

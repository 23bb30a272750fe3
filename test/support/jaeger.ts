import assert from 'node:assert/strict';

/** A span as Jaeger's HTTP query API returns it (`/api/traces`), with its service resolved. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  /** The span's parent (a CHILD_OF reference), undefined for a trace's root. */
  parentSpanID: string | undefined;
  service: string;
  tags: Record<string, unknown>;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
}

interface RawTrace {
  traceID: string;
  spans: { traceID: string; spanID: string; operationName: string; processID: string; references?: { refType: string; spanID: string }[]; tags?: { key: string; value: unknown }[] }[];
  processes: Record<string, { serviceName: string }>;
}

/** The stack's Jaeger (scripts/stack/jaeger.sh): its query API and its OTLP/HTTP receiver. */
export function stackJaeger(): { url: string; otlpEndpoint: string } {
  const url = process.env.JAEGER_URL;
  const otlpEndpoint = process.env.STACK_OTLP_ENDPOINT;
  assert.ok(url && otlpEndpoint, 'JAEGER_URL and STACK_OTLP_ENDPOINT come from .stack/env (npm run stack:up starts Jaeger)');
  return { url, otlpEndpoint };
}

/** The traces that have a span of `service`, each whole (every service's spans), as Jaeger stores them. */
export async function tracesOf(service: string): Promise<JaegerTrace[]> {
  const query = new URLSearchParams({ service, lookback: '2h', limit: '50' });
  const response = await fetch(`${stackJaeger().url}/api/traces?${query}`);
  assert.equal(response.status, 200, `Jaeger's /api/traces?${query}: ${await response.clone().text()}`);
  const body = (await response.json()) as { data: RawTrace[] | null };
  return (body.data ?? []).map((trace) => ({
    traceID: trace.traceID,
    spans: trace.spans.map((span) => ({
      traceID: span.traceID,
      spanID: span.spanID,
      operationName: span.operationName,
      parentSpanID: span.references?.find((reference) => reference.refType === 'CHILD_OF')?.spanID,
      service: trace.processes[span.processID]?.serviceName ?? '?',
      tags: Object.fromEntries((span.tags ?? []).map((tag) => [tag.key, tag.value])),
    })),
  }));
}

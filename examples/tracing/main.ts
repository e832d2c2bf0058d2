/**
 * Places one order with tracing on and prints its trace: one JSON line per span, in the order they ended.
 *
 *   node --conditions=@wakame/source --import tsx examples/tracing/main.ts [url]
 *
 * `url` defaults to $WAKAME_URL, else the in-process broker `memory://tracing`. Swap the in-memory exporter for
 * `ConsoleSpanExporter` or an OTLP exporter to see the spans in a terminal or a tracing backend.
 */
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { placeOrder } from './orders.js';
import { startTracing } from './otel.js';

const url = process.argv[2] ?? process.env.WAKAME_URL ?? 'memory://tracing';
const exporter = new InMemorySpanExporter();
const stopTracing = startTracing(exporter);
try {
  await placeOrder(url);
  for (const span of exporter.getFinishedSpans()) {
    const line = {
      name: span.name,
      kind: SpanKind[span.kind],
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      parentSpanId: span.parentSpanContext?.spanId ?? null,
      destination: span.attributes['messaging.destination.name'],
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
} finally {
  await stopTracing();
}

/**
 * The OpenTelemetry SDK set up as an application would (a tracer provider, the async-hooks context manager and the
 * W3C propagator, all global), exporting to memory so tests can read the finished spans.
 */
import { createRequire } from 'node:module';
import { context, propagation, type TextMapPropagator, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * The W3C propagator lives in `@opentelemetry/core`, a dependency of the SDK that core does not list itself: it is
 * loaded from where the SDK finds it (an application gets it with `@opentelemetry/sdk-node` or lists it).
 */
function w3cPropagator(): TextMapPropagator {
  const fromSdk = createRequire(createRequire(import.meta.url).resolve('@opentelemetry/sdk-trace-base'));
  const { W3CTraceContextPropagator } = fromSdk('@opentelemetry/core') as {
    W3CTraceContextPropagator: new () => TextMapPropagator;
  };
  return new W3CTraceContextPropagator();
}

/** An in-memory tracer provider, not registered anywhere. */
export function memoryProvider(): { provider: BasicTracerProvider; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  return { provider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }), exporter };
}

/** Registers the SDK globally; the returned function undoes it. */
export function registerSdk(): { exporter: InMemorySpanExporter; unregister: () => Promise<void> } {
  const { provider, exporter } = memoryProvider();
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(w3cPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    exporter,
    async unregister() {
      trace.disable();
      propagation.disable();
      context.disable();
      await provider.shutdown();
    },
  };
}

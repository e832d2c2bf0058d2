/**
 * The OpenTelemetry SDK set up as an application would (a tracer provider, the async-hooks context manager and the
 * W3C propagator, all global), exporting to memory so tests can read the finished spans.
 */
import { createRequire } from 'node:module';
import { context, propagation, type TextMapPropagator, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

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

/** A tracer provider exporting each span as it ends (to memory unless told), not registered anywhere. */
export function memoryProvider<E extends SpanExporter = InMemorySpanExporter>(
  exporter: E = new InMemorySpanExporter() as unknown as E,
): { provider: BasicTracerProvider; exporter: E } {
  return { provider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }), exporter };
}

/** A registered SDK: where its spans went, and how to undo the registration. */
export interface RegisteredSdk<E extends SpanExporter = InMemorySpanExporter> {
  readonly exporter: E;
  unregister(): Promise<void>;
}

/** Registers the SDK globally; the returned function undoes it. */
export function registerSdk<E extends SpanExporter = InMemorySpanExporter>(exporterGiven?: E): RegisteredSdk<E> {
  const { provider, exporter } = memoryProvider<E>(exporterGiven);
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

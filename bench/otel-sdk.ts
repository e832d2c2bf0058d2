/**
 * The OpenTelemetry SDK for the `worker.observability` figures, registered as an application would (tracer provider
 * with a batch processor, async-hooks context manager, W3C propagator) and exporting to nowhere, so the figure is
 * the instrumentation's and the SDK's cost without an exporter's. The SDK is loaded as @wakame/core resolves it
 * (its dev dependency), the very copy core's instrumentation sees.
 */
import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';
import type * as ContextAsyncHooks from '@opentelemetry/context-async-hooks';
import type * as SdkTraceBase from '@opentelemetry/sdk-trace-base';

const fromCore = createRequire(new URL('../packages/core/package.json', import.meta.url));
const api = fromCore('@opentelemetry/api') as typeof Api;
const sdk = fromCore('@opentelemetry/sdk-trace-base') as typeof SdkTraceBase;
const hooks = fromCore('@opentelemetry/context-async-hooks') as typeof ContextAsyncHooks;
// The W3C propagator is in @opentelemetry/core, a dependency of the SDK.
const { W3CTraceContextPropagator } = createRequire(fromCore.resolve('@opentelemetry/sdk-trace-base'))(
  '@opentelemetry/core',
) as { W3CTraceContextPropagator: new () => Api.TextMapPropagator };

const discard: SdkTraceBase.SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
};

/** Registers the SDK globally; the returned function flushes and unregisters it. */
export function registerBenchSdk(): () => Promise<void> {
  const provider = new sdk.BasicTracerProvider({ spanProcessors: [new sdk.BatchSpanProcessor(discard)] });
  api.context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(provider);
  return async () => {
    await provider.shutdown();
    api.trace.disable();
    api.propagation.disable();
    api.context.disable();
  };
}

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SpanKind } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { placeOrder } from '../../../examples/tracing/orders.js';
import { registerSdk } from './messaging/otel-sdk.js';

interface SpanLine {
  readonly name: string;
  readonly kind: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
}

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/** The four spans of one order, in causal order: each the parent of the next. */
function expectOneChain(spans: readonly SpanLine[]): void {
  const byName = (name: string, kind: string) => spans.filter((s) => s.name === name && s.kind === kind);
  const sends = byName('send shop', 'PRODUCER');
  const orderSend = sends.find((s) => s.parentSpanId === null);
  const invoiceSend = sends.find((s) => s.parentSpanId !== null);
  const [orderProcess] = byName('process orders', 'CONSUMER');
  const [invoiceProcess] = byName('process invoices', 'CONSUMER');
  expect(spans).toHaveLength(4);
  expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
  expect(orderSend?.parentSpanId).toBeNull();
  expect(orderProcess?.parentSpanId).toBe(orderSend?.spanId);
  expect(invoiceSend?.parentSpanId).toBe(orderProcess?.spanId);
  expect(invoiceProcess?.parentSpanId).toBe(invoiceSend?.spanId);
}

describe('examples/tracing', { timeout: 120_000 }, () => {
  it('one order makes one trace: send → process → send (from the handler) → process', async () => {
    const sdk = registerSdk();
    try {
      await placeOrder(`memory://${randomUUID()}`);
      expectOneChain(
        sdk.exporter.getFinishedSpans().map((s) => ({
          name: s.name,
          kind: SpanKind[s.kind] ?? String(s.kind),
          traceId: s.spanContext().traceId,
          spanId: s.spanContext().spanId,
          parentSpanId: s.parentSpanContext?.spanId ?? null,
        })),
      );
    } finally {
      await sdk.unregister();
    }
  });

  it('main.ts sets the SDK up and prints that trace', async () => {
    // The example imports @opentelemetry/* as an application would (the repository root lists them).
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=@wakame/source', '--import', 'tsx', 'examples/tracing/main.ts', `memory://${randomUUID()}`],
      { cwd: repo, timeout: 100_000 },
    );
    expectOneChain(
      stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as SpanLine),
    );
  });
});

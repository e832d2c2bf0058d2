/**
 * The same worker from code: `worker.serveHealth()` before `worker.run()`. Prints one JSON line with the address,
 * then runs until SIGINT/SIGTERM (the server closes with the worker).
 *
 *   HEALTH_PORT=8080 pnpm exec tsx --conditions=@wakame/source examples/health-and-metrics/main.ts [url]
 *
 * `url` defaults to $WAKAME_URL, else the embedded broker `file://./.wakame`. HEALTH_HOST=0.0.0.0 for probes from
 * outside the machine (in a container: always).
 */
import { Worker } from '@wakame/core';
import { topology } from './topology.js';
import shipping from './worker.js';

const url = process.argv[2] ?? process.env.WAKAME_URL ?? 'file://./.wakame';
const worker = new Worker({
  connection: url,
  topology,
  handlers: shipping.handlers,
  concurrency: shipping.concurrency,
});
const health = await worker.serveHealth({
  port: Number(process.env.HEALTH_PORT ?? 8080),
  host: process.env.HEALTH_HOST ?? '127.0.0.1',
});
process.stdout.write(`${JSON.stringify({ event: 'health', url: health.url, host: health.host, port: health.port })}\n`);
worker.handleSignals();
await worker.run();

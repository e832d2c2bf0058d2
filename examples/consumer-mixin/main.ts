/**
 * One worker process of this example, until SIGINT/SIGTERM (the first stops it gracefully: running jobs finish and
 * are acked; a second gives them back to the queue at once). One JSON line per event on stdout. Apply
 * `topology.yaml` first, then:
 *
 *   pnpm exec tsx --conditions=@wakame/source examples/consumer-mixin/main.ts [url] [name]
 *
 * `url` defaults to $WAKAME_URL, else the embedded broker `file://./.wakame`.
 */
import { CacheAndJobsWorker, type Report } from './worker.js';

const url = process.argv[2] ?? process.env.WAKAME_URL ?? 'file://./.wakame';
const name = process.argv[3] ?? `worker-${process.pid}`;
const report: Report = (event, fields = {}) =>
  process.stdout.write(`${JSON.stringify({ worker: name, event, ...fields })}\n`);

const worker = new CacheAndJobsWorker(url, name, report);
worker.handleSignals();
await worker.run();

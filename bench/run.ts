/**
 * `pnpm bench [filter]`: runs the benchmarks whose name contains `filter` (all by default), prints
 * one table and writes bench/results/latest.json.
 */

import { amqpBenchmarks } from './amqp.bench.js';
import { fileBenchmarks } from './file.bench.js';
import { formatTable, runBenchmarks, writeResults } from './harness.js';
import { memoryBenchmarks } from './memory.bench.js';
import { redisBenchmarks } from './redis.bench.js';
import { redisTaskBenchmarks } from './redis-tasks.bench.js';
import { topologyBenchmarks } from './topology.bench.js';
import { workerBenchmarks } from './worker.bench.js';

const filter = process.argv[2];
const figures = await runBenchmarks(
  [
    ...memoryBenchmarks,
    ...fileBenchmarks,
    ...amqpBenchmarks,
    ...redisBenchmarks,
    ...redisTaskBenchmarks,
    ...topologyBenchmarks,
    ...workerBenchmarks,
  ],
  filter,
);
if (figures.length > 0) {
  process.stdout.write(`${formatTable(figures)}\n`);
  const file = await writeResults(figures);
  process.stderr.write(`figures written to ${file}\n`);
}

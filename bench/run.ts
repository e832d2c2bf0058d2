/**
 * `pnpm bench [filter]`: runs the benchmarks whose name contains `filter` (all by default), prints
 * one table and writes bench/results/latest.json; a run of all of them also regenerates
 * bench/README.md from it (`pnpm bench --readme` does that alone, from the latest results).
 */

import { amqpBenchmarks } from './amqp.bench.js';
import { beanstalkBenchmarks } from './beanstalk.bench.js';
import { fileBenchmarks } from './file.bench.js';
import { describeMachine, formatTable, runBenchmarks, writeResults } from './harness.js';
import { memoryBenchmarks } from './memory.bench.js';
import { writeReadme } from './readme.js';
import { redisBenchmarks } from './redis.bench.js';
import { redisKombuBenchmarks } from './redis-kombu.bench.js';
import { redisTaskBenchmarks } from './redis-tasks.bench.js';
import { sqlBenchmarks } from './sql.bench.js';
import { topologyBenchmarks } from './topology.bench.js';
import { workerBenchmarks } from './worker.bench.js';
import { zookeeperBenchmarks } from './zookeeper.bench.js';

if (process.argv[2] === '--readme') {
  process.stdout.write(`${await writeReadme()} regenerated\n`);
  process.exit(0);
}

const filter = process.argv[2];
const machine = describeMachine();
const started = performance.now();
// A peer's background failure nobody awaits (BullMQ has thrown `Missing key for job …` that way)
// must not end the whole run: it is logged and kept in the results; the figure it broke fails on its own.
const incidents: string[] = [];
process.on('unhandledRejection', (reason) => {
  const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  incidents.push(text);
  process.stderr.write(`unhandled rejection (kept going): ${text}\n`);
});

const figures = await runBenchmarks(
  [
    ...memoryBenchmarks,
    ...fileBenchmarks,
    ...amqpBenchmarks,
    ...redisBenchmarks,
    ...redisKombuBenchmarks,
    ...redisTaskBenchmarks,
    ...sqlBenchmarks,
    ...beanstalkBenchmarks,
    ...zookeeperBenchmarks,
    ...topologyBenchmarks,
    ...workerBenchmarks,
  ],
  filter,
);
if (figures.length > 0) {
  process.stdout.write(`${formatTable(figures)}\n`);
  const file = await writeResults({
    generatedAt: new Date().toISOString(),
    filter: filter ?? null,
    machine,
    durationMs: Math.round(performance.now() - started),
    incidents,
    figures,
  });
  process.stderr.write(`figures written to ${file}\n`);
  if (!filter) process.stderr.write(`${await writeReadme()} regenerated\n`);
  if (figures.some((f) => f.failed)) process.exitCode = 1;
}

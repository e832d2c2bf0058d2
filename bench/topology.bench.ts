/**
 * Topology as code at scale: validate + compile + plan of generated topologies of 10,100 and 100,100
 * entities (YAML text through the whole pipeline, against an empty memory broker), each size in a
 * child process of its own so its peak RSS is measured; and apply of 1,000 queues with bindings to a
 * fresh RabbitMQ vhost, then the no-op re-apply three times: planned from the management API's
 * listing, and without it over AMQP — entity by entity (the path before batches) and in batches —
 * counting the broker round trips the admin reports.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  applyPlan,
  Connection,
  compileTopology,
  type DesiredTopology,
  diff,
  observe,
  parseTopologyText,
} from '@wakame/core';
import type { ObservedTopology, TopologyAdmin } from '@wakame/core/spi';
import { createVhost, deleteVhost } from '@wakame/testkit';
import { AmqpAdmin } from '@wakame/transports/amqp';
import { type Benchmark, type Figure, now, Rounds, summarize } from './harness.js';
import { generateTopology, type PipelineResult } from './topology-pipeline.js';

const run = promisify(execFile);
const CHILD = join(fileURLToPath(new URL('.', import.meta.url)), 'topology-pipeline.ts');
const APPLY_ROUNDS = 3;

/** Sizes of the pipeline benchmark: exchanges × queues per exchange (each queue has one binding). */
const SIZES = [
  { label: '10k', exchanges: 100, perExchange: 50, rounds: 7 },
  { label: '100k', exchanges: 100, perExchange: 500, rounds: 3 },
] as const;

/** Runs the pipeline child for `rounds` rounds of one size. */
async function runChild(size: (typeof SIZES)[number], rounds: number): Promise<PipelineResult> {
  const { stdout } = await run(
    process.execPath,
    [
      '--conditions=@wakame/source',
      '--import',
      'tsx',
      CHILD,
      String(size.exchanges),
      String(size.perExchange),
      String(rounds),
    ],
    { timeout: rounds * 60_000, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout) as PipelineResult;
}

async function pipeline(): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const size of SIZES) {
    const r = await runChild(size, size.rounds);
    // Memory from a child of its own that runs the pipeline once: the timing child's peak also holds
    // whatever garbage of earlier rounds the collector had not yet taken back.
    const once = await runChild(size, 1);
    figures.push(
      summarize(
        {
          name: `topology.validate-compile-plan.${size.label}`,
          unit: 'ms',
          note: `${r.entities} entities from YAML text, ${r.changes} changes planned on an empty memory broker${size.label === '10k' ? ' (target < 300 ms)' : ' (target < 3 s)'}`,
        },
        r.ms,
      ),
      {
        name: `topology.validate-compile-plan.${size.label}.peak-rss`,
        value: once.peakRssMb,
        unit: 'MB',
        rounds: 1,
        note: `peak RSS of a child process that runs the pipeline once, ${Math.round(once.baselineRssMb)} MB of it there before the pipeline starts (Node, tsx, the loaded modules)`,
      },
      {
        name: `topology.validate-compile-plan.${size.label}.rss-growth`,
        value: once.peakRssMb - once.baselineRssMb,
        unit: 'MB',
        rounds: 1,
        note: `what the pipeline itself adds: the peak above less the RSS at its start${size.label === '10k' ? ' (target < 100 MB)' : ''}`,
      },
    );
  }
  return figures;
}

/** Broker round trips an {@link AmqpAdmin} reports (its `stats`), and its admin calls by method. */
interface CallCount {
  calls: number;
  readonly byMethod: Map<string, number>;
  roundTrips: number;
  channelsOpened: number;
}

/**
 * `admin` as a plan and apply see it when the management API is unavailable: listing reports
 * nothing (incomplete), so every entity is probed over AMQP — in batches (`probeEntities`,
 * `bindMany`), or, with `lone`, one passive and one active declare per entity as before them.
 * Round trips are read from the admin's own count, not inferred from the calls.
 */
function withoutManagement(admin: AmqpAdmin, count: CallCount, lone: boolean): TopologyAdmin {
  const counted = new Set(['declareExchange', 'declareQueue', 'bind', 'unbind', 'deleteExchange', 'deleteQueue']);
  if (!lone) counted.add('probeEntities').add('bindMany');
  const incomplete: ObservedTopology = { exchanges: [], queues: [], bindings: [], complete: false };
  return new Proxy(admin, {
    get(target, key) {
      if (key === 'inspect') return () => Promise.resolve(incomplete);
      if (key === 'stacks' || key === 'broker') return undefined;
      if (lone && (key === 'probeEntities' || key === 'bindMany')) return undefined;
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof key !== 'string' || !counted.has(key)) return value.bind(target);
      return (...args: unknown[]) => {
        count.calls++;
        count.byMethod.set(key, (count.byMethod.get(key) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Re-applies through the admin's AMQP path, counting its round trips. */
async function reapplyCounted(admin: AmqpAdmin, desired: DesiredTopology, lone: boolean) {
  const count: CallCount = { calls: 0, byMethod: new Map(), roundTrips: 0, channelsOpened: 0 };
  const before = { ...admin.stats };
  const result = await reapply(withoutManagement(admin, count, lone), desired);
  count.roundTrips = admin.stats.roundTrips - before.roundTrips;
  count.channelsOpened = admin.stats.channelsOpened - before.channelsOpened;
  return { ...result, count };
}

async function reapply(admin: TopologyAdmin, desired: DesiredTopology): Promise<{ ms: number; changes: number }> {
  const start = now();
  const plan = diff(desired, await observe(admin, desired));
  await applyPlan(plan, admin);
  return { ms: now() - start, changes: plan.changes.filter((c) => c.kind !== 'unchanged').length };
}

async function apply(): Promise<Figure[]> {
  const parsed = parseTopologyText(generateTopology(10, 100), 'generated.yaml');
  if (!parsed.topology) throw new Error('generated topology did not parse');
  const desired = compileTopology(parsed.topology.document);
  const entities = desired.exchanges.length + desired.queues.length + desired.bindings.length;
  const rounds = new Rounds();
  const lone: CallCount[] = [];
  const batched: CallCount[] = [];
  let probedChanges = 0;
  for (let round = 0; round < APPLY_ROUNDS; round++) {
    const vhost = `wakame-bench-${randomUUID()}`;
    const url = await createVhost(vhost);
    const connection = await Connection.open(url);
    try {
      await rounds.take('first', async () => {
        const start = now();
        await applyPlan(diff(desired, await observe(connection.admin, desired)), connection.admin, { concurrency: 32 });
        return now() - start;
      });
      await rounds.take('noop', async () => {
        const { ms, changes } = await reapply(connection.admin, desired);
        if (changes > 0) throw new Error(`re-apply found ${changes} changes`);
        return ms;
      });
      const admin = connection.currentTransport?.admin;
      if (!(admin instanceof AmqpAdmin)) throw new Error('expected the AMQP transport');
      await rounds.take('noop.amqp.lone', async () => {
        const { ms, changes, count } = await reapplyCounted(admin, desired, true);
        lone.push(count);
        probedChanges = changes;
        return ms;
      });
      await rounds.take('noop.amqp', async () => {
        const { ms, changes, count } = await reapplyCounted(admin, desired, false);
        if (changes !== probedChanges) throw new Error(`batched plan has ${changes} changes, lone ${probedChanges}`);
        batched.push(count);
        return ms;
      });
    } finally {
      await connection.close();
      await deleteVhost(vhost);
    }
  }
  const methods = (counts: CallCount[]) =>
    [...(counts[counts.length - 1]?.byMethod ?? [])].map(([m, n]) => `${m} ${n}`).join(', ');
  const trips = (counts: CallCount[]) => counts.map((c) => c.roundTrips + c.channelsOpened);
  const opened = (counts: CallCount[]) => counts[counts.length - 1]?.channelsOpened ?? 0;
  return [
    rounds.figure('first', {
      name: 'topology.apply-1000-queues',
      unit: 'ms',
      note: `10 exchanges, 1,000 queues, 1,000 bindings (${entities} entities), fresh vhost, concurrency 32`,
    }),
    rounds.figure('noop', {
      name: 'topology.reapply-no-op',
      unit: 'ms',
      note: 'plan from the management API listing + apply with nothing to do',
    }),
    rounds.figure('noop.amqp', {
      name: 'topology.reapply-no-op.amqp',
      unit: 'ms',
      ceiling: 'topology.reapply-no-op',
      note: `the same without the management API: entities probed over AMQP in batches (probeEntities, bindMany); ${probedChanges} planned changes (bindings cannot be listed, so they are re-bound) (ratio: lower is better)`,
    }),
    rounds.figure('noop.amqp.lone', {
      name: 'topology.reapply-no-op.amqp-lone',
      unit: 'ms',
      note: 'the same, every entity probed alone (passive + active declare each, one bind per binding): the path before batches',
    }),
    summarize(
      {
        name: 'topology.reapply-no-op.amqp.round-trips',
        unit: 'round trips',
        note: `broker round trips the AMQP admin counted (batches and lone RPCs, plus ${opened(batched)} channel opens) for ${entities} entities: ${methods(batched)}`,
      },
      trips(batched),
    ),
    summarize(
      {
        name: 'topology.reapply-no-op.amqp-lone.round-trips',
        unit: 'round trips',
        note: `the same, probed alone (plus ${opened(lone)} channel opens): ${methods(lone)}`,
      },
      trips(lone),
    ),
    {
      name: 'topology.reapply-no-op.amqp.round-trips-per-entity',
      value: (trips(batched)[0] ?? Number.NaN) / entities,
      unit: 'round trips/entity',
      rounds: batched.length,
      note: `batched; probed alone: ${((trips(lone)[0] ?? Number.NaN) / entities).toFixed(3)}`,
    },
  ];
}

export const topologyBenchmarks: readonly Benchmark[] = [
  { name: 'topology.pipeline', run: pipeline },
  { name: 'topology.apply', run: apply },
];

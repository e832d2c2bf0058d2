/**
 * bench/README.md, generated from bench/results/latest.json: what each figure measures, its
 * ceiling, the ratio, the median and spread of its rounds, and the machine and commit they were
 * measured on. `pnpm bench` (unfiltered) runs this last; `pnpm bench --readme` runs it alone. After a
 * filtered run, the figures it did not measure keep their rows (marked as kept) from the README as it was.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Figure, formatValue, RESULTS_FILE, type RunResults } from './harness.js';

const README = join(dirname(RESULTS_FILE), '..', 'README.md');

/** What each group measures and what its ceilings are, keyed by the figure names' first segment. */
const GROUPS: readonly { readonly prefix: string; readonly title: string; readonly text: string }[] = [
  {
    prefix: 'memory.',
    title: 'Memory transport',
    text: 'Publish → consume → ack in one process. Ceiling: the bare `MemoryStore` (put, get, settle in a loop); the ratios show what the virtual transport and the Producer/Consumer API cost on top.',
  },
  {
    prefix: 'file.',
    title: 'File broker (`file://`)',
    text: 'One producer and two consumer connections on one directory, each message decoded and acked, without and with fsync. Ceiling: the same file work with bare `fs` calls (write to tmp/ and rename into ready/; list, rename into claimed/, read, parse, unlink; with fsync, the file and the directory synced). Disk timings are noisy: read the spread before the median.',
  },
  {
    prefix: 'amqp.',
    title: 'AMQP (RabbitMQ)',
    text: 'Ceiling: raw amqplib doing the same work on the same broker. Publish with confirms (awaited every 1,000), persistent and transient. Consume at prefetch 1,000 with every body JSON-decoded, acked per message (`.each`: amqplib sends one basic.ack frame per message; Wakame’s application acks each, and its transport coalesces one turn’s acks into one multiple-ack) and acked in batches (`.batched`: amqplib sends one basic.ack(multiple=true) per event-loop turn). Latency: a steady 2,000 msg/s, p50 and p99; the ratio there is Wakame/raw, lower is better.',
  },
  {
    prefix: 'redis.',
    title: 'Redis',
    text: 'Ceiling: raw ioredis doing the same work in kombu’s message format. Publish: one multi-value LPUSH of 500 per round trip, as Wakame sends (a pipeline of single-value LPUSHes shown beside it, labelled). Consume: every body decoded; the reliable pattern by hand (Lua pops 100 into unacked + index, Lua acks the batch). `kombu-pattern-ioredis` is kombu’s per-message pattern rewritten in ioredis, not kombu; `redis.kombu.*` is real kombu (Python), for scale, skipped when it is not installed. Tasks: Wakame’s TaskClient + Worker beside BullMQ’s Queue + Worker (ratio Wakame/BullMQ).',
  },
  {
    prefix: 'topology.',
    title: 'Topology as code',
    text: 'Validate + compile + plan of generated topologies of ~10k and ~100k entities (a child process per size, so its peak RSS is its own). Apply of 1,000 queues to a fresh vhost, then the no-op re-apply planned from the management API and planned without it, entity by entity over AMQP, with the number of AMQP admin calls that takes.',
  },
  {
    prefix: 'sql.',
    title: 'SQL (`postgres://`, `mysql://`)',
    text: 'PostgreSQL 15 and MariaDB 10.11 on the same machine, each round in a fresh schema (PostgreSQL) or table prefix (MariaDB), dropped after it. Ceiling: the store’s own statements written out on bare `pg` / `mysql2`, on the store’s tables, with the store’s durability (PostgreSQL: publishes commit durably, claims and acks with `synchronous_commit = off` for their own transaction, as the store does; MariaDB: every commit durable, `innodb_flush_log_at_trx_commit = 1`): publish as one multi-row INSERT of 500 rows of the same columns (PostgreSQL: with the store’s `pg_notify` in the same statement); consume as the store’s claim (PostgreSQL: its `SET LOCAL`s, then `UPDATE … WHERE seq IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`, one simple query; MariaDB: a transaction of `SELECT … FOR UPDATE SKIP LOCKED` + `UPDATE … WHERE seq IN`, run again when InnoDB reports a deadlock) in Wakame’s batches (half the prefetch window, several in flight, a claim whenever a quarter of the window is free), each body decoded, one `DELETE … WHERE seq IN (…)` per batch of acks. Tasks: Wakame’s TaskClient + Worker on `postgres://` beside pg-boss 10 (`send`/`insert`, `work`, and `fetch` + `complete` in a loop) in a schema of its own; the ratio is Wakame/pg-boss `work`. Depth: the queue filled in one statement to 10k, 100k, 1M (MariaDB 10k, 100k) ready messages, then single claims (p50/p99; ratio Wakame/raw, lower is better) and a 5,000-message burst.',
  },
  {
    prefix: 'beanstalk.',
    title: 'beanstalkd (`beanstalk://`)',
    text: 'beanstalkd 1.12 on the same machine (in memory, `-z 1048576`), each round under a tube prefix of its own. Ceiling: the in-tree protocol client (no npm beanstalkd client is installed here) doing the same work on the same connection count: publish as 500 `put`s pipelined per round trip, each job the bytes Wakame writes (its JSON header line + the body); consume as 100 `reserve-with-timeout 0` pipelined with the next batch in flight, each body decoded, the `delete`s pipelined. Wakame also asks `stats-job` per claimed job (how it tells a redelivered message), which its ratio includes.',
  },
  {
    prefix: 'zookeeper.',
    title: 'ZooKeeper (`zookeeper://`)',
    text: 'ZooKeeper 3.8 standalone on the same machine (every write logged to disk before it is answered), each round under a root znode of its own, removed after it; 3,000 messages a phase. Ceiling: raw node-zookeeper-client doing the same znode work on one session: publish as 500 persistent-sequential `create`s in flight, each the entry bytes Wakame writes; consume as one sorted `getChildren`, then per entry (100 in flight) Wakame’s claim (a multi-op creating the ephemeral claim node and the `delivered` marker, the entry’s `getData` pipelined beside it), the body decoded, and the ack (a multi-op removing claim, marker and entry). Wakame also lists the queue again whenever a watch says it changed, which its ratio includes. `kombu-*`: `?layout=kombu` against kazoo’s `Queue.get` pattern (`getData` + `delete`, kombu’s envelope decoded).',
  },
  {
    prefix: 'worker.',
    title: 'Worker',
    text: 'Ceiling: a bare Consumer (decode + ack) on the same transport and messages; the ratio is the Worker’s share of throughput (target ≥ 0.9). `worker.observability.*`: the same task worker (memory transport) with OpenTelemetry tracing on (API installed, no SDK registered) and metrics (health server) on and off, and with the SDK registered (every span sampled, batched to an exporter that discards it); ceiling the worker with both off, measured twice (`off-again`: the noise between identical settings). Target for tracing without an SDK: ≥ 95%. Per wall-clock second and per second of the process’s CPU time, which other work on the shared machine moves far less.',
  },
];

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function row(f: Figure): string {
  // JSON has no NaN: an unmeasured value comes back as null.
  const measured = typeof f.value === 'number' && !Number.isNaN(f.value);
  const value = f.failed ? '**failed**' : measured ? `${formatValue(f.value)} ${f.unit}` : 'skipped';
  const spread = f.spread
    ? `${formatValue(f.spread.min)} – ${formatValue(f.spread.max)} (p25–p75 ${formatValue(f.spread.p25)} – ${formatValue(f.spread.p75)})`
    : '';
  const ratio = f.ratio !== undefined ? `${(f.ratio * 100).toFixed(1)}%` : '';
  const ceiling = f.ceiling ? `\`${f.ceiling}\`` : '';
  return `| \`${f.name}\` | ${value} | ${spread} | ${f.rounds} | ${ceiling} | ${ratio} | ${cell(f.failed ?? f.note ?? '')} |`;
}

/** A section of an earlier README: all of it (marked as kept), and its figure rows by figure name. */
interface EarlierSection {
  readonly text: string;
  readonly rows: ReadonlyMap<string, string>;
  /** Where its figures come from: the `_Kept from an earlier run: …_` line. */
  readonly provenance: string;
}

/**
 * The sections of an earlier README by title, each with the line saying when its figures were
 * measured: a filtered run regenerates its own figures and keeps the others as they were.
 */
function earlierSections(previous: string): Map<string, EarlierSection> {
  const measured = previous.match(/^Measured at .*$/m)?.[0] ?? 'in an earlier run';
  const machine = previous.match(/^Machine: .*$/m)?.[0] ?? '';
  const sections = new Map<string, EarlierSection>();
  for (const part of previous.split(/^## /m).slice(1)) {
    const title = part.slice(0, part.indexOf('\n'));
    const body = part.trimEnd();
    // A section kept before already says where its figures come from.
    const provenance =
      body.match(/^_Kept from an earlier run: .*_$/m)?.[0] ?? `_Kept from an earlier run: ${measured} ${machine}_`;
    const text = body.includes('\n_Kept from an earlier run:')
      ? body
      : body.replace(/\n\n\| figure \|/, `\n\n${provenance}\n\n| figure |`);
    const rows = new Map<string, string>();
    for (const line of body.split('\n')) {
      const name = line.match(/^\| `([^`]+)` \|/)?.[1];
      if (name !== undefined) rows.set(name, line);
    }
    sections.set(title, { text: `## ${text}`, rows, provenance });
  }
  return sections;
}

/**
 * The README of `results`. After a filtered run (`pnpm bench sql`), the groups it did not measure
 * keep their sections from `previous` (the README as it was), marked with the run they come from.
 */
export function renderReadme(results: RunResults, previous?: string): string {
  const m = results.machine;
  const lines = [
    '# Benchmarks',
    '',
    '<!-- Generated by bench/readme.ts from bench/results/latest.json: edit those, not this file. -->',
    '',
    '`pnpm bench [filter]` runs the benchmarks whose name contains `filter` (`memory`, `file`, `amqp`,',
    '`redis.messaging`, `redis.kombu`, `redis.tasks`, `sql` (`sql.postgres.messaging`, `sql.mysql.messaging`,',
    '`sql.postgres.tasks`, `sql.postgres.depth`, `sql.mysql.depth`), `beanstalk`, `zookeeper`, `topology.pipeline`, `topology.apply`,',
    '`worker.memory`, `worker.amqp`, `worker.observability`; all without one), prints a table and writes',
    '`bench/results/latest.json` (atomically, with the commit and the machine). A run of all of them',
    'regenerates this file; `pnpm bench --readme` regenerates it from the latest results (after a filtered',
    'run, the figures it did not measure keep their rows, marked with the run they come from).',
    '',
    'Every figure is measured over several rounds, interleaved with its ceiling, and reported as the',
    'median of its rounds with their spread (min – max, and p25 – p75), never the best round. A ceiling',
    'is the same work done by the bare layer underneath (or by a peer library) in the same run; the',
    'ratio is median over median (for throughput, the fraction of the ceiling reached). A figure whose',
    'side failed (a third-party peer such as BullMQ included) is reported as failed and the run goes on.',
    'Every load loop is bounded in count and in time.',
    '',
    `Measured at commit \`${results.commit.slice(0, 12)}\`${results.dirty ? ' (with uncommitted changes)' : ''}, ${results.generatedAt}, in ${Math.round(results.durationMs / 1000)} s${results.filter ? `, filter \`${results.filter}\`` : ''}.`,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.totalMemoryMb} MB, ${m.platform}, Node ${m.node}; load average at the start ${m.loadAverage.join(' / ')} (1/5/15 min).`,
    'The brokers (RabbitMQ, Redis, PostgreSQL, MariaDB) run on the same machine, which other work shares: compare ratios within one run rather than absolute figures across runs.',
  ];
  if (results.incidents.length > 0) {
    lines.push('', `Unhandled errors during the run (kept going): ${results.incidents.map(cell).join('; ')}`);
  }
  const placed = new Set<Figure>();
  const earlier = results.filter && previous ? earlierSections(previous) : new Map<string, EarlierSection>();
  for (const group of GROUPS) {
    const figures = results.figures.filter((f) => f.name.startsWith(group.prefix));
    const kept = earlier.get(group.title);
    if (figures.length === 0 && kept) lines.push('', kept.text);
    if (figures.length === 0) continue;
    lines.push('', `## ${group.title}`, '', group.text, '');
    lines.push('| figure | median | spread | rounds | ceiling | ratio | what it measures |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const f of figures) {
      lines.push(row(f));
      placed.add(f);
    }
    // A filtered run that measured part of a group (`redis.messaging` of Redis) keeps the group's other rows.
    const measured = new Set(figures.map((f) => f.name));
    const others = kept ? [...kept.rows].filter(([name]) => !measured.has(name)).map(([, line]) => line) : [];
    if (kept && others.length > 0) {
      lines.push('', kept.provenance, '', '| figure | median | spread | rounds | ceiling | ratio | what it measures |');
      lines.push('| --- | --- | --- | --- | --- | --- | --- |', ...others);
    }
  }
  const rest = results.figures.filter((f) => !placed.has(f));
  if (rest.length > 0) {
    lines.push('', '## Other', '', '| figure | median | spread | rounds | ceiling | ratio | what it measures |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- |', ...rest.map(row));
  }
  return `${lines.join('\n')}\n`;
}

/** Regenerates bench/README.md from latest.json (atomically); returns its path. */
export async function writeReadme(): Promise<string> {
  const results = JSON.parse(await readFile(RESULTS_FILE, 'utf8')) as RunResults;
  const previous = await readFile(README, 'utf8').catch(() => undefined);
  const tmp = `${README}.${process.pid}.tmp`;
  await writeFile(tmp, renderReadme(results, previous));
  await rename(tmp, README);
  return README;
}

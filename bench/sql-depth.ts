/**
 * The claim at depth: a queue filled to 10k, 100k or 1M ready messages in one statement in the
 * store's own table (PostgreSQL `INSERT … SELECT … FROM generate_series`, MariaDB a recursive CTE),
 * each row built as Wakame's publish builds it; then single claims (a claim of one, timed, then
 * its ack) and a consume burst, raw (the store's statements on bare drivers) and through Wakame.
 * The claim reads the ready index from its front, so its cost should not grow with the depth.
 */
import type { Connection } from '@wakame/core';
import { benchPayload, quantile } from './harness.js';
import {
  expect,
  type Layout,
  QUEUE,
  type RawSql,
  type RowTemplate,
  rawAck,
  rawClaim,
  readyCount,
} from './sql-support.js';

/** Single claims per side and round. */
export const SINGLE_CLAIMS = 200;
/** Messages of a consume burst. */
export const BURST = 5_000;
export const BURST_PREFETCH = 500;
/** How long one fill may take (the 1M fill is the longest). */
export const FILL_TIMEOUT_MS = 300_000;

/**
 * Adds `n` ready messages to the queue in one statement (no notification: nobody waits on them),
 * then ANALYZE as autovacuum would after such a load.
 */
export async function fill(raw: RawSql, layout: Layout, template: RowTemplate, n: number): Promise<void> {
  if (n <= 0) return;
  // One body for every row: the benchmark message numbered 0 (the same size as the others, ±4 bytes).
  const body = Buffer.from(JSON.stringify(benchPayload(0)));
  const values = [
    QUEUE,
    template.priority,
    body,
    body.length,
    JSON.stringify(template.properties),
    template.exchange,
    template.routingKey,
  ];
  const columns =
    'queue, msg_id, priority, wanted_priority, body, body_size, properties, exchange, routing_key, expires_at, redelivered';
  const m = layout.messages;
  if (raw.kind === 'postgres') {
    await raw.query(
      `INSERT INTO ${m} (${columns}) SELECT $1, 'depth-' || g, $2, NULL, $3, $4, $5::json, $6, $7, NULL, false ` +
        'FROM generate_series(1, $8) AS g',
      [...values, n],
    );
    await raw.query(`ANALYZE ${m}`);
  } else {
    // The server caps a recursive CTE at max_recursive_iterations (1000 here): raised for this session only.
    await raw.transaction(async (query) => {
      await query('SET SESSION max_recursive_iterations = ?', [n + 1]);
      await query(
        `INSERT INTO ${m} (${columns}) WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?) ` +
          "SELECT ?, CONCAT('depth-', i), ?, NULL, ?, ?, ?, ?, ?, NULL, FALSE FROM g",
        [n, ...values],
      );
    });
    await raw.query(`ANALYZE TABLE ${m}`);
  }
}

/** Tops the queue up to `depth` ready messages. */
export async function topUp(raw: RawSql, layout: Layout, template: RowTemplate, depth: number): Promise<void> {
  await fill(raw, layout, template, depth - (await readyCount(raw, layout)));
}

/** p50 and p99 of SINGLE_CLAIMS raw claims of one message (ms), each acked after it was timed. */
export async function rawSingleClaims(raw: RawSql, layout: Layout): Promise<{ p50: number; p99: number }> {
  const owner = `raw-single-${process.pid}`;
  const times: number[] = [];
  for (let i = 0; i < SINGLE_CLAIMS; i++) {
    const start = performance.now();
    const rows = await rawClaim(raw, layout, owner, 1);
    times.push(performance.now() - start);
    expect(rows.length === 1, `raw single claim ${i} found nothing`);
    await rawAck(
      raw,
      layout,
      owner,
      rows.map((r) => r.seq),
    );
  }
  return percentiles(times);
}

/** The same through Wakame: `getMessage` (basic.get: the store's claim of one) timed, then `ack()`. */
export async function wakameSingleClaims(connection: Connection): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < SINGLE_CLAIMS; i++) {
    const start = performance.now();
    const message = await connection.getMessage(QUEUE);
    times.push(performance.now() - start);
    expect(message !== undefined, `Wakame single claim ${i} found nothing`);
    await message?.ack();
  }
  return percentiles(times);
}

function percentiles(times: number[]): { p50: number; p99: number } {
  const sorted = times.sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

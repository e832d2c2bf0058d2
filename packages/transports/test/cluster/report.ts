/**
 * Makes the measured failover figures visible: one `[failover]` line in the test output, an annotation on the test
 * (shown by reporters that support them), and a JSON line appended to a results file for the closing note.
 */
import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FailoverResult } from '@wakame/testkit';

/** Where results accumulate (`WAKAME_FAILOVER_RESULTS`, default `$TMPDIR/wakame-failover-results.jsonl`). */
export const RESULTS_FILE: string =
  process.env.WAKAME_FAILOVER_RESULTS ?? join(tmpdir(), 'wakame-failover-results.jsonl');

export async function report(result: FailoverResult, annotate: (message: string) => Promise<unknown>): Promise<void> {
  const line = JSON.stringify({ at: new Date().toISOString(), ...result });
  appendFileSync(RESULTS_FILE, `${line}\n`);
  const summary =
    `${result.label}: published ${result.published}, confirmed ${result.confirmed}, lost ${result.lost}` +
    ` (still queued ${result.stillQueued ?? '?'}, consumers ${result.consumersAtEnd ?? '?'}), dups ${result.duplicates}, rejected ${result.rejected}` +
    ` ${JSON.stringify(result.rejections)}, unsettled ${result.unsettled}, refusal window ${result.refusalWindowMs} ms,` +
    ` reconnect ${result.reconnectMs ?? '-'} ms (consumer ${result.consumerReconnectMs ?? '-'} ms),` +
    ` in flight at fault ${result.inFlightAtFault}; queue on ${result.queueNode}, broke ${result.faultNode},` +
    ` consumer on ${result.consumerNode}; ${Math.round(result.durationMs / 1000)} s`;
  console.info(`[failover] ${summary}`);
  await annotate(summary);
}

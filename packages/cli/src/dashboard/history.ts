/**
 * Depth history per queue, kept by the dashboard server so that a page opened late still draws
 * its sparklines, and the net rate of each queue (how fast its ready count grows or shrinks).
 *
 * @module
 */

/** One sample of a queue's ready count. */
export interface DepthSample {
  /** Epoch milliseconds. */
  readonly at: number;
  readonly ready: number;
}

/** Samples kept per queue: at the default 2 s interval, four minutes of history. */
export const HISTORY_LENGTH = 120;

/** A bounded series of depth samples per queue name. */
export class DepthHistory {
  readonly #series = new Map<string, DepthSample[]>();

  constructor(private readonly length = HISTORY_LENGTH) {}

  /** Records one round: every queue listed gets a sample; queues no longer listed are forgotten. */
  record(at: number, depths: ReadonlyMap<string, number>): void {
    for (const name of [...this.#series.keys()]) if (!depths.has(name)) this.#series.delete(name);
    for (const [name, ready] of depths) {
      const series = this.#series.get(name) ?? [];
      series.push({ at, ready });
      if (series.length > this.length) series.splice(0, series.length - this.length);
      this.#series.set(name, series);
    }
  }

  /** The samples of `queue`, oldest first. */
  of(queue: string): readonly DepthSample[] {
    return this.#series.get(queue) ?? [];
  }

  /**
   * Messages per second the ready count moved by over the last `window` samples (positive: the
   * queue fills faster than it drains). A net figure: a broker listing gives no in/out counters
   * on every transport, so publish and delivery rates are not told apart. `null` with fewer
   * than two samples.
   */
  netRate(queue: string, window = 5): number | null {
    const series = this.of(queue);
    if (series.length < 2) return null;
    const first = series[Math.max(0, series.length - 1 - window)] as DepthSample;
    const last = series[series.length - 1] as DepthSample;
    const seconds = (last.at - first.at) / 1000;
    return seconds > 0 ? (last.ready - first.ready) / seconds : null;
  }
}

/**
 * A plain consumer worker in kombu's `ConsumerMixin` shape: no tasks, any messages. Each worker
 *
 * - binds a queue of its own to the `cache.invalidate` fanout exchange (a broadcast: every worker gets a copy) and
 *   drops the cache keys it is told to, and
 * - competes with the other workers on the shared `jobs.thumbnail` queue (fed by the `jobs` direct exchange).
 *
 * `main.ts` runs one as a process.
 */
import { broadcast, type Connection, ConsumerMixin, type ConsumerSpec, type Message } from '@wakame/core';

/** One line of output. */
export type Report = (event: string, fields?: Record<string, unknown>) => void;

export class CacheAndJobsWorker extends ConsumerMixin {
  /** This worker's cache: `cache.invalidate` messages drop keys from it. */
  readonly cache = new Map<string, unknown>();

  constructor(
    url: string,
    readonly name: string,
    private readonly report: Report,
  ) {
    super({ connection: url, stopDeadline: 10_000 });
  }

  /** Asked at every (re)start: a new broadcast queue each time (the old one went with the old connection). */
  protected getConsumers(_connection: Connection): ConsumerSpec[] {
    return [
      {
        queues: [broadcast('cache.invalidate', { queuePrefix: 'cache' })],
        accept: ['json', 'text'],
        prefetch: 1,
        handler: async (message: Message) => {
          // `{ "key": "user:1" }` or plain text `user:1`.
          const payload = message.payload;
          const key = typeof payload === 'string' ? payload : String((payload as { key?: unknown }).key);
          this.cache.delete(key);
          this.report('invalidated', { key });
          await message.ack();
        },
      },
      {
        queues: ['jobs.thumbnail'],
        accept: ['json', 'text', 'raw'],
        prefetch: 4,
        handler: async (message: Message, { signal }) => {
          // JSON `{ "image": "cat.jpg" }`, text `cat.jpg`, or the image bytes themselves (raw).
          const image = describe(message);
          await new Promise((resolve) => setTimeout(resolve, 20)); // the work
          // A forced stop (second Ctrl-C, or the deadline) gives the job back to the queue: another worker runs it.
          if (signal.aborted) return;
          this.report('thumbnail', { image, contentType: message.contentType });
          await message.ack();
        },
      },
    ];
  }

  protected override onConnectionRevived(): void {
    this.report('connected');
  }

  protected override onConsumeReady(): void {
    this.report('ready', { queues: this.queues });
  }

  protected override onConnectionLost(error: Error): void {
    this.report('connection-lost', { error: error.message });
  }

  protected override onConnectionError(error: unknown, delayMs: number): void {
    this.report('connection-error', { error: String(error), retryInMs: delayMs });
  }

  protected override onConsumeEnd(): void {
    const { processed, failed, returned } = this.health();
    this.report('stopped', { processed, failed, returned });
  }
}

function describe(message: Message): string {
  const payload = message.payload;
  if (Buffer.isBuffer(payload)) return `${payload.length} bytes`;
  if (typeof payload === 'string') return payload;
  return String((payload as { image?: unknown }).image);
}

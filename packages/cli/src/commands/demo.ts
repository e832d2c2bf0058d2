/**
 * `wakame demo`: a guided run of the messaging model on a broker (the in-process `memory://` broker by
 * default): it declares a topic exchange with a priority queue and a dead-letter queue, publishes
 * messages with mixed priorities, consumes them, rejects the ones marked bad (they are dead-lettered
 * with the reason in `x-death`) and reports what happened.
 *
 * @module
 */
import { Connection, Exchange, type Message, Queue } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { cliTransports } from '../transports.js';

/** Options of `wakame demo`. */
export interface DemoOptions {
  /** Broker URL. @defaultValue `'memory://demo'` */
  readonly url?: string;
  /** How many messages to send (1 to 1000000, checked when the flag is parsed). @defaultValue `1000` */
  readonly messages?: number;
}

/** What `wakame demo --json` prints. */
export interface DemoReport {
  readonly url: string;
  readonly transport: string;
  readonly published: number;
  readonly acked: number;
  readonly deadLettered: number;
  readonly firstPriorities: readonly number[];
  readonly deadLetterReason: string | undefined;
  readonly elapsedMs: number;
  readonly messagesPerSecond: number;
}

/** Runs the demo; never leaves messages unsettled. */
export async function demo(ctx: CommandContext, options: DemoOptions = {}): Promise<DemoReport> {
  const count = options.messages ?? 1000;
  const say = (line: string): void => {
    if (!ctx.jsonMode && !ctx.quiet) ctx.out(line);
  };
  const connection = await Connection.open(options.url ?? 'memory://demo', { transports: cliTransports });
  try {
    const events = new Exchange('demo.events', { type: 'topic' });
    const dead = new Exchange('demo.dead', { type: 'fanout' });
    const deadLetters = new Queue('demo.dead-letters', { exchange: dead, routingKey: '' });
    const work = new Queue('demo.work', {
      exchange: events,
      routingKey: 'media.#',
      maxPriority: 10,
      deadLetter: { exchange: 'demo.dead' },
    });
    await connection.declare(events, dead, deadLetters, work);
    await work.attach(connection).purge();
    await deadLetters.attach(connection).purge();
    say(
      `connected to ${connection.url} (${connection.transport.kind}); declared exchange demo.events → queue demo.work (max priority 10, dead-letters to demo.dead)`,
    );

    const producer = connection.producer({ exchange: events });
    const started = performance.now();
    const step = Math.max(1, Math.floor(count / 4));
    for (let i = 0; i < count; i++) {
      const bad = i % 100 === 99;
      await producer.publish(
        { n: i, file: `video-${i}.mp4`, bad },
        {
          routingKey: i % 2 === 0 ? 'media.video.encode' : 'media.image.thumbnail',
          priority: i % 10,
          messageId: `demo-${i}`,
        },
      );
      if ((i + 1) % step === 0 || i + 1 === count) say(`published ${i + 1}/${count}`);
    }

    const firstPriorities: number[] = [];
    let acked = 0;
    let rejected = 0;
    const consumer = connection.consumer({ queues: [work], prefetch: 200 });
    for await (const message of consumer) {
      if (firstPriorities.length < 5) firstPriorities.push(message.properties.priority ?? 0);
      if ((message.payload as { bad: boolean }).bad) {
        await message.reject();
        rejected++;
      } else {
        await message.ack();
        acked++;
      }
      if (acked + rejected === count) break;
    }
    const elapsedMs = performance.now() - started;
    const letter: Message | undefined = await deadLetters.attach(connection).get();
    const deaths = letter?.headers['x-death'] as { reason?: string }[] | undefined;
    await letter?.ack();
    const report: DemoReport = {
      url: connection.url,
      transport: connection.transport.kind,
      published: count,
      acked,
      deadLettered: rejected,
      firstPriorities,
      deadLetterReason: deaths?.[0]?.reason,
      elapsedMs: Math.round(elapsedMs),
      messagesPerSecond: Math.round((count / elapsedMs) * 1000),
    };
    say(
      `consumed ${acked + rejected}: ${acked} acked, ${rejected} rejected → dead-lettered (x-death reason: ${report.deadLetterReason ?? 'none'})`,
    );
    say(`highest priority first: the first priorities received were ${firstPriorities.join(', ')}`);
    say(
      `${count} messages through publish → route → consume → settle in ${report.elapsedMs} ms (${report.messagesPerSecond.toLocaleString('en-US')} msg/s)`,
    );
    if (ctx.jsonMode) ctx.json(report);
    return report;
  } finally {
    await connection.close();
  }
}

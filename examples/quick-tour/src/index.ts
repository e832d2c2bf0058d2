/**
 * The README's quick tour as a runnable program. `runTour()` returns what it observed so the test
 * suite can check the tour really does what the README says.
 */
import { Exchange, Queue, withConnection } from '@wakame/core';

export interface TourResult {
  readonly handled: unknown[];
  readonly iterated: unknown[];
  readonly deadLettered: unknown[];
}

export async function runTour(
  url = 'memory://quick-tour',
  log: (line: string) => void = () => {},
): Promise<TourResult> {
  return withConnection(url, async (connection) => {
    const media = new Exchange('media', { type: 'topic' });
    const dead = new Exchange('media.dead', { type: 'fanout' });
    const failed = new Queue('media.failed', { exchange: dead });
    const videos = new Queue('videos', {
      exchange: media,
      routingKey: 'video.#',
      maxPriority: 10,
      messageTtl: 60_000,
      deadLetter: { exchange: 'media.dead' },
    });
    await connection.declare(media, dead, failed, videos);
    log('declared media (topic) → videos (priority 10, ttl 60 s, dead-letters to media.dead → media.failed)');

    const producer = connection.producer({ exchange: media });
    await producer.publish({ file: 'cat.mp4' }, { routingKey: 'video.encode', priority: 7, headers: { tenant: 'a' } });
    await producer.publish({ file: 'big.mp4' }, { routingKey: 'video.encode', compression: 'zlib', mandatory: true });
    await producer.publish({ file: 'broken.mp4' }, { routingKey: 'video.encode', priority: 9 });
    log('published 3 messages');

    const handled: unknown[] = [];
    const consumer = connection.consumer({
      queues: [videos],
      prefetch: 10,
      handler: async (message) => {
        const payload = message.payload as { file: string };
        handled.push(payload);
        log(`handled ${payload.file} (priority ${message.properties.priority ?? 0})`);
        if (payload.file === 'broken.mp4') await message.reject();
        else await message.ack();
      },
    });
    await consumer.consume();
    while (handled.length < 3) await new Promise((resolve) => setImmediate(resolve));
    await consumer.close();

    await producer.publish({ file: 'dog.mp4' }, { routingKey: 'video.thumbnail' });
    const iterated: unknown[] = [];
    for await (const message of connection.consumer({ queues: [videos] })) {
      iterated.push(message.payload);
      await message.ack();
      break;
    }
    log(`iterated ${JSON.stringify(iterated)}`);

    const deadLettered: unknown[] = [];
    const letter = await failed.attach(connection).get();
    if (letter) {
      deadLettered.push(letter.payload);
      log(
        `dead-lettered ${JSON.stringify(letter.payload)} (x-death reason ${JSON.stringify((letter.headers['x-death'] as { reason: string }[])[0]?.reason)})`,
      );
      await letter.ack();
    }
    return { handled, iterated, deadLettered };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runTour(process.argv[2], (line) => process.stdout.write(`${line}\n`));
}

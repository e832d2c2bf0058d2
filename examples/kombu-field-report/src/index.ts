/**
 * A guided tour of the cases a team coming from kombu + RabbitMQ found confusing: exchanges vs queues vs
 * routing keys. Each case publishes real messages through the broker at `url` (the embedded `memory://` or
 * `file://` broker, Redis or RabbitMQ), prints what happened and why, and returns what it observed so the
 * test suite can check the tour says the truth on every broker.
 *
 * Every name carries a random suffix (runs on a shared broker do not collide) and everything declared is
 * deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import {
  broadcast,
  type Connection,
  ConsumerMixin,
  type ConsumerSpec,
  Exchange,
  type Message,
  Queue,
  withConnection,
} from '@wakame/core';

export interface FieldReportOptions {
  /** Broker URL. @defaultValue a fresh in-process `memory://` broker */
  readonly url?: string;
  /** Where the plain-words narration goes. @defaultValue nowhere */
  readonly log?: (line: string) => void;
  /** Longest wait for the deliveries of one case, in ms. @defaultValue 15000 */
  readonly timeoutMs?: number;
}

/** (a) One queue shared by two receivers. */
export interface RoundRobinOutcome {
  readonly published: readonly number[];
  /** Message numbers each receiver got. */
  readonly byReceiver: Readonly<Record<'alice' | 'bob', readonly number[]>>;
}

/** (b) A queue per receiver on the same fanout exchange. */
export interface BroadcastOutcome {
  readonly published: readonly number[];
  readonly byReceiver: Readonly<Record<'alice' | 'bob', readonly number[]>>;
}

/** (c) Direct routing: what each queue holds after publishing with each key. */
export interface DirectOutcome {
  readonly hipri: readonly string[];
  readonly lopri: readonly string[];
  /** What happened to a `mandatory` message whose key no queue is bound with. */
  readonly unroutable: string;
}

/** (d) Topic patterns: the routing keys each binding pattern received. */
export interface TopicOutcome {
  readonly published: readonly string[];
  readonly matched: Readonly<Record<'a.#' | '*.stock', readonly string[]>>;
}

/** (e) The order a priority-ordered worker handled hipri/midpri/lopri work in. */
export interface PriorityOutcome {
  readonly publishedOrder: readonly string[];
  readonly handledOrder: readonly string[];
}

/** (f) A pickled message meets a JSON-only consumer. */
export interface PickleOutcome {
  readonly contentType: string;
  /** The typed error the consumer reported, or undefined if it (wrongly) accepted the message. */
  readonly error:
    | { readonly name: string; readonly code: string; readonly contentType: string; readonly message: string }
    | undefined;
  /** The handler never saw the message. */
  readonly handlerCalls: number;
  /** What the advice says to do instead. */
  readonly hint: string;
  /** Asking for `accept: ['pickle']` fails up front: there is no pickle serializer. */
  readonly acceptPickle: { readonly name: string; readonly message: string } | undefined;
}

export interface FieldReport {
  readonly runId: string;
  readonly roundRobin: RoundRobinOutcome;
  readonly broadcast: BroadcastOutcome;
  readonly direct: DirectOutcome;
  readonly topic: TopicOutcome;
  readonly priority: PriorityOutcome;
  readonly pickle: PickleOutcome;
}

/** Resolves once `count` events were counted; rejects after `timeoutMs` naming what was missing. */
class Countdown {
  #seen = 0;
  readonly #done: Promise<void>;
  #resolve!: () => void;
  #reject!: (error: Error) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly count: number,
    readonly what: string,
  ) {
    this.#done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (count <= 0) this.#resolve();
  }

  tick(): void {
    this.#seen += 1;
    if (this.#seen >= this.count) this.#resolve();
  }

  wait(timeoutMs: number): Promise<void> {
    this.#timer = setTimeout(
      () =>
        this.#reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${this.what} (${this.#seen}/${this.count})`),
        ),
      timeoutMs,
    );
    return this.#done.finally(() => clearTimeout(this.#timer));
  }
}

/** Drains a queue with basic.get until it is empty, acking as it goes; returns the payloads. */
async function drain(queue: Queue, connection: Connection): Promise<unknown[]> {
  const bound = queue.attach(connection);
  const payloads: unknown[] = [];
  for (let i = 0; i < 100; i++) {
    const message = await bound.get({ accept: ['json', 'text'] });
    if (!message) break;
    payloads.push(message.payload);
    await message.ack();
  }
  return payloads;
}

/** Runs every case in turn on `url` and returns what each one observed. */
export async function runFieldReport(options: FieldReportOptions = {}): Promise<FieldReport> {
  const runId = randomBytes(4).toString('hex');
  const url = options.url ?? `memory://field-report-${runId}`;
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 15_000;
  const name = (what: string): string => `field-report.${runId}.${what}`;

  return withConnection(url, async (connection) => {
    const queues: Queue[] = [];
    const exchanges: Exchange[] = [];
    const declare = async (...entities: (Exchange | Queue)[]): Promise<void> => {
      for (const entity of entities) {
        if (entity instanceof Queue) queues.push(entity);
        else exchanges.push(entity);
      }
      await connection.declare(...entities);
    };
    log(`field report ${runId} on ${url}`);
    try {
      const roundRobin = await caseRoundRobin();
      const broadcastOutcome = await caseBroadcast();
      const direct = await caseDirect();
      const topic = await caseTopic();
      const priority = await casePriority();
      const pickle = await casePickle();
      return { runId, roundRobin, broadcast: broadcastOutcome, direct, topic, priority, pickle };
    } finally {
      for (const queue of queues)
        await queue
          .attach(connection)
          .delete()
          .catch(() => {});
      for (const exchange of exchanges)
        await exchange
          .attach(connection)
          .delete()
          .catch(() => {});
      log(`cleaned up: deleted ${queues.length} queues and ${exchanges.length} exchanges`);
    }

    /**
     * Two receivers consume their queues (prefetch 1: one unacked message each at most), recording the message
     * numbers they got, until `expected` arrived. With `pairUp`, a receiver holds its message until the other one
     * holds one too (or nothing more is due), so a broker that shares a queue must hand the next message to the
     * free receiver: the sharing shows even on a broker that would be fast enough to feed one receiver alone.
     */
    async function receive(
      receivers: Record<'alice' | 'bob', Queue>,
      expected: number,
      what: string,
      pairUp: boolean,
    ): Promise<Record<'alice' | 'bob', number[]>> {
      const got: Record<'alice' | 'bob', number[]> = { alice: [], bob: [] };
      const countdown = new Countdown(expected, what);
      const holding = new Set<'alice' | 'bob'>();
      let release: (() => void) | undefined;
      let released = Promise.resolve();
      let gaveUp = false;
      const consumers = (['alice', 'bob'] as const).map((who) =>
        connection.consumer({
          queues: [receivers[who]],
          prefetch: 1,
          handler: async (message: Message) => {
            got[who].push((message.payload as { n: number }).n);
            if (pairUp && !gaveUp) {
              holding.add(who);
              if (holding.size === 1) released = new Promise<void>((resolve) => (release = resolve));
              const received = got.alice.length + got.bob.length;
              if (holding.size === 2 || received >= expected) {
                holding.clear();
                release?.();
              }
              await released;
            }
            await message.ack();
            countdown.tick();
          },
        }),
      );
      try {
        for (const consumer of consumers) await consumer.consume();
        await countdown.wait(timeoutMs);
        return got;
      } finally {
        gaveUp = true;
        release?.();
        for (const consumer of consumers) await consumer.close();
      }
    }

    async function caseRoundRobin(): Promise<RoundRobinOutcome> {
      log('');
      log('(a) fanout exchange → ONE shared queue → two receivers');
      const exchange = new Exchange(name('events'), { type: 'fanout' });
      const shared = new Queue(name('events.shared'), { exchange });
      await declare(exchange, shared);
      const published = [1, 2, 3, 4, 5, 6];
      const producer = connection.producer({ exchange });
      const received = receive({ alice: shared, bob: shared }, published.length, 'the shared queue', true);
      for (const n of published) await producer.publish({ n });
      const byReceiver = await received;
      log(
        `    published ${published.length}; alice got ${JSON.stringify(byReceiver.alice)}, bob got ${JSON.stringify(byReceiver.bob)}`,
      );
      log('    why: the exchange copied each message into its one bound queue; a queue hands each message to ONE');
      log(
        '    of its consumers. Two receivers on one queue share the work (round-robin), they do not each get a copy.',
      );
      return { published, byReceiver };
    }

    async function caseBroadcast(): Promise<BroadcastOutcome> {
      log('');
      log('(b) fanout exchange → a queue PER receiver (broadcast())');
      const exchangeName = name('news');
      const alice = broadcast(exchangeName, { queuePrefix: name('news.alice') });
      const bob = broadcast(exchangeName, { queuePrefix: name('news.bob') });
      await declare(new Exchange(exchangeName, { type: 'fanout' }), alice, bob);
      const published = [1, 2, 3];
      const producer = connection.producer({ exchange: exchangeName });
      const received = receive({ alice, bob }, published.length * 2, 'both broadcast queues', false);
      for (const n of published) await producer.publish({ n });
      const byReceiver = await received;
      log(
        `    published ${published.length}; alice got ${JSON.stringify(byReceiver.alice)}, bob got ${JSON.stringify(byReceiver.bob)}`,
      );
      log('    why: a fanout exchange copies every message into EVERY bound queue. broadcast() gives each receiver');
      log('    a queue of its own (auto-delete, random name), so each receiver gets a copy of everything.');
      return { published, byReceiver };
    }

    async function caseDirect(): Promise<DirectOutcome> {
      log('');
      log('(c) direct exchange: the routing key picks the queue');
      const exchange = new Exchange(name('tasks'), { type: 'direct' });
      const hipri = new Queue(name('tasks.hipri'), { exchange, routingKey: 'hipri' });
      const lopri = new Queue(name('tasks.lopri'), { exchange, routingKey: 'lopri' });
      await declare(exchange, hipri, lopri);
      const producer = connection.producer({ exchange });
      await producer.publish('urgent-1', { routingKey: 'hipri' });
      await producer.publish('later-1', { routingKey: 'lopri' });
      await producer.publish('urgent-2', { routingKey: 'hipri' });
      let unroutable = 'delivered';
      try {
        await producer.publish('lost', { routingKey: 'midpri', mandatory: true });
      } catch (error) {
        unroutable = (error as Error).name;
      }
      const got = {
        hipri: (await drain(hipri, connection)) as string[],
        lopri: (await drain(lopri, connection)) as string[],
      };
      log(`    hipri holds ${JSON.stringify(got.hipri)}; lopri holds ${JSON.stringify(got.lopri)}`);
      log(`    a mandatory message with key 'midpri' (no queue bound with it): ${unroutable}`);
      log('    why: a direct exchange delivers to the queues bound with exactly that key; a key nobody bound is');
      log('    dropped silently, unless the message is `mandatory`, then the publish fails so you hear about it.');
      return { ...got, unroutable };
    }

    async function caseTopic(): Promise<TopicOutcome> {
      log('');
      log('(d) topic exchange: `#` is zero or more words, `*` exactly one word');
      const exchange = new Exchange(name('market'), { type: 'topic' });
      const hash = new Queue(name('market.hash'), { exchange, routingKey: 'a.#' });
      const star = new Queue(name('market.star'), { exchange, routingKey: '*.stock' });
      await declare(exchange, hash, star);
      const published = ['a', 'a.b.c', 'b.a', 'usd.stock', 'stock', 'a.b.stock'];
      const producer = connection.producer({ exchange });
      for (const key of published) await producer.publish({ key }, { routingKey: key });
      const keys = async (queue: Queue) =>
        ((await drain(queue, connection)) as { key: string }[]).map((p) => p.key).sort();
      const matched = { 'a.#': await keys(hash), '*.stock': await keys(star) };
      for (const key of published) {
        const to = (['a.#', '*.stock'] as const).filter((p) => matched[p].includes(key));
        log(`    ${key.padEnd(10)} → ${to.length > 0 ? to.join(', ') : '(no queue)'}`);
      }
      log(
        "    why: `a.#` matches 'a' itself (# may be zero words) and any depth below it; `*.stock` needs exactly one",
      );
      log(
        "    word before '.stock', so 'stock' (none) and 'a.b.stock' (two) do not match. This is the broker routing.",
      );
      return { published, matched };
    }

    async function casePriority(): Promise<PriorityOutcome> {
      log('');
      log('(e) hipri / midpri / lopri queues served in priority order by a ConsumerMixin worker');
      const exchange = new Exchange(name('jobs'), { type: 'direct' });
      const classes = ['hipri', 'midpri', 'lopri'] as const;
      const byClass = Object.fromEntries(
        classes.map((c) => [c, new Queue(name(`jobs.${c}`), { exchange, routingKey: c })]),
      ) as Record<(typeof classes)[number], Queue>;
      await declare(exchange, ...classes.map((c) => byClass[c]));
      const producer = connection.producer({ exchange });
      const publishedOrder = ['lopri-1', 'lopri-2', 'midpri-1', 'hipri-1', 'hipri-2'];
      for (const job of publishedOrder) await producer.publish({ job }, { routingKey: job.split('-')[0] ?? '' });
      log(`    published before the worker started: ${publishedOrder.join(', ')}`);

      const handledOrder: string[] = [];
      const countdown = new Countdown(publishedOrder.length, 'the priority worker');
      class PriorityWorker extends ConsumerMixin {
        protected getConsumers(): ConsumerSpec[] {
          return [
            {
              // Highest class first: lopri is served only while hipri and midpri are empty.
              queues: classes.map((c) => byClass[c]),
              order: 'priority',
              prefetch: 1,
              handler: async (message: Message) => {
                handledOrder.push((message.payload as { job: string }).job);
                await message.ack();
                countdown.tick();
              },
            },
          ];
        }
      }
      const worker = new PriorityWorker({ connection, stopDeadline: 5_000 });
      const running = worker.run();
      try {
        await Promise.race([
          countdown.wait(timeoutMs),
          running.then(() => Promise.reject(new Error('worker stopped early'))),
        ]);
      } finally {
        await worker.stop();
        await running;
      }
      log(`    handled: ${handledOrder.join(', ')}`);
      log('    why: the worker consumes the three queues in the order given (order: "priority") and takes from a');
      log('    lower class only while the higher ones are empty, so hipri runs first although lopri was sent first.');
      return { publishedOrder, handledOrder };
    }

    async function casePickle(): Promise<PickleOutcome> {
      log('');
      log('(f) a pickled message (kombu producer with serializer="pickle") meets a JSON consumer');
      const contentType = 'application/x-python-serialize';
      const inbox = new Queue(name('inbox'), {
        exchange: new Exchange(name('inbox'), { type: 'direct' }),
        routingKey: 'inbox',
      });
      await declare(new Exchange(name('inbox'), { type: 'direct' }), inbox);
      // The bytes of `pickle.dumps({'n': 1}, protocol=2)`: opaque here, and never executed.
      const pickled = Buffer.from('80027d710058010000006e71014b01732e', 'hex');
      await connection.producer({ exchange: name('inbox') }).publish(pickled, { routingKey: 'inbox', contentType });
      log(`    published a raw body with content type ${contentType}`);

      let error: PickleOutcome['error'];
      let handlerCalls = 0;
      const countdown = new Countdown(1, 'the refusal of the pickled message');
      const consumer = connection.consumer({
        queues: [inbox],
        accept: ['json'],
        handler: async (message) => {
          handlerCalls += 1;
          await message.ack();
          countdown.tick();
        },
        onDecodeError: async (message, cause) => {
          const typed = cause as Error & { code?: string; contentType?: string };
          error = {
            name: typed.name,
            code: typed.code ?? '',
            contentType: typed.contentType ?? '',
            message: typed.message,
          };
          await message.reject();
          countdown.tick();
        },
      });
      await consumer.consume();
      try {
        await countdown.wait(timeoutMs);
      } finally {
        await consumer.close();
      }
      const hint = `${contentType} is Python pickle, which Wakame never decodes (unpickling runs code); publish with serializer='json' in kombu (or accept another safe serializer: text, raw, msgpack, yaml)`;
      log(`    consumer refused it: ${error ? `${error.name} (${error.code}): ${error.message}` : 'no error?'}`);
      log(`    advice: ${hint}`);

      let acceptPickle: PickleOutcome['acceptPickle'];
      try {
        connection.consumer({ queues: [inbox], accept: ['pickle'] });
      } catch (cause) {
        acceptPickle = { name: (cause as Error).name, message: (cause as Error).message };
      }
      log(
        `    and accept: ['pickle'] fails at once: ${acceptPickle ? `${acceptPickle.name}: ${acceptPickle.message}` : 'accepted?'}`,
      );
      return { contentType, error, handlerCalls, hint, acceptPickle };
    }
  });
}

import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Connection, Exchange, type Message, Queue } from '@wakame/core';
import { describe, expect, it } from 'vitest';
import { runCli, USAGE_EXIT_CODE } from '../src/cli.js';
import { type ConsumeResult, consume } from '../src/commands/consume.js';
import { passiveSpec } from '../src/commands/publish.js';
import { askYesNo } from '../src/confirm.js';
import { ExitError } from '../src/errors.js';
import { capture } from './capture.js';

/** A fresh in-process broker with the queues given (the memory broker lives as long as the test process). */
async function broker(...queues: (Queue | Exchange)[]): Promise<string> {
  const url = `memory://${randomUUID()}`;
  const connection = await Connection.open(url);
  try {
    await connection.declare(...queues);
  } finally {
    await connection.close();
  }
  return url;
}

/** Ready messages and consumers of `queue` right now. */
async function counts(url: string, queue: string): Promise<{ ready: number; consumers: number }> {
  const connection = await Connection.open(url);
  try {
    const r = await connection.admin.declareQueue(passiveSpec(queue), { passive: true });
    return { ready: r.messageCount, consumers: r.consumerCount };
  } finally {
    await connection.close();
  }
}

/** Takes one message off `queue` (acked) to look at what was published. */
async function take(url: string, queue: string): Promise<Message> {
  const connection = await Connection.open(url);
  try {
    const message = await connection.getMessage(queue, { accept: ['json', 'text', 'raw', 'text/csv'] });
    if (!message) throw new Error(`queue '${queue}' is empty`);
    message.decode();
    await message.ack();
    return message;
  } finally {
    await connection.close();
  }
}

async function run(argv: string[], overrides: Parameters<typeof capture>[0] = {}) {
  const c = capture(overrides);
  await runCli(c.ctx, argv);
  return c;
}

async function exitError(argv: string[], overrides: Parameters<typeof capture>[0] = {}) {
  const c = capture(overrides);
  const error = await runCli(c.ctx, argv).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ExitError);
  return { error: error as ExitError, ...c };
}

describe('wakame publish', () => {
  it('sends inline JSON with the json serializer and reports what it sent', async () => {
    const url = await broker(new Queue('q'));
    const c = await run(['publish', '--url', url, '--routing-key', 'q', '{"id": 7, "tags": ["a"]}', '--json']);
    expect(c.json).toEqual([{ exchange: '', routingKey: 'q', bytes: 21, count: 1, contentType: 'application/json' }]);
    const message = await take(url, 'q');
    expect(message.contentType).toBe('application/json');
    expect(message.payload).toEqual({ id: 7, tags: ['a'] });
    expect(message.properties.deliveryMode).toBe(2);
  });

  it('sends text that is not JSON as text/plain, with a one-line summary', async () => {
    const url = await broker(new Queue('q'));
    const c = await run(['publish', '--url', url, '--routing-key', 'q', 'hello world']);
    expect(c.out).toEqual(["Published 1 message of 11 bytes (text/plain) to queue 'q' (default exchange)."]);
    const message = await take(url, 'q');
    expect(message.contentType).toBe('text/plain');
    expect(message.payload).toBe('hello world');
  });

  it('reads @file: .json as JSON, other files as raw bytes, --content-type as given', async () => {
    const url = await broker(new Queue('q'));
    const dir = await mkdtemp(join(tmpdir(), 'wakame-'));
    await writeFile(join(dir, 'job.json'), '{\n  "job": 1\n}\n');
    await writeFile(join(dir, 'blob.bin'), Buffer.from([0, 1, 2, 255]));
    await writeFile(join(dir, 'rows.csv'), 'a,b\n1,2\n');
    await run(['publish', '--url', url, '--routing-key', 'q', '@job.json'], { cwd: dir });
    await run(['publish', '--url', url, '--routing-key', 'q', `@${join(dir, 'blob.bin')}`]);
    await run(['publish', '--url', url, '--routing-key', 'q', '@rows.csv', '--content-type', 'text/csv'], { cwd: dir });
    await run(['publish', '--url', url, '--routing-key', 'q', '@@literal']);
    const json = await take(url, 'q');
    expect([json.contentType, json.payload]).toEqual(['application/json', { job: 1 }]);
    const blob = await take(url, 'q');
    expect(blob.contentType).toBe('application/data');
    expect(blob.payload).toEqual(Buffer.from([0, 1, 2, 255]));
    const csv = await take(url, 'q');
    expect([csv.contentType, csv.contentEncoding, csv.payload]).toEqual(['text/csv', 'utf-8', 'a,b\n1,2\n']);
    expect((await take(url, 'q')).payload).toBe('@literal');
  });

  it('sets headers, priority, expiration and delivery mode, and publishes --count copies', async () => {
    const url = await broker(new Queue('q', { maxPriority: 9 }));
    const flags = '--header source=cli --header trace=a=b --priority 5 --expiration 60000 --transient --count 3';
    const c = await run(['publish', '--url', url, '--routing-key', 'q', '{"n":1}', ...flags.split(' '), '--json']);
    expect(c.json[0]).toMatchObject({ count: 3 });
    expect((await counts(url, 'q')).ready).toBe(3);
    const message = await take(url, 'q');
    expect(message.headers).toEqual({ source: 'cli', trace: 'a=b' });
    expect(message.properties).toMatchObject({ priority: 5, expiration: '60000', deliveryMode: 1 });
  });

  it('routes through an exchange by routing key', async () => {
    const topic = new Exchange('events', { type: 'topic' });
    const url = await broker(topic, new Queue('orders', { exchange: topic, routingKey: 'order.*' }));
    await run(['publish', '--url', url, '--exchange', 'events', '--routing-key', 'order.created', '{"id":1}']);
    expect((await take(url, 'orders')).routingKey).toBe('order.created');
  });

  it('warns when the default exchange has no queue of that name', async () => {
    const url = await broker();
    const c = await run(['publish', '--url', url, '--routing-key', 'nowhere', 'x']);
    expect(c.err.join('\n')).toMatch(/no queue named 'nowhere'/);
  });

  it.each([
    [['--routing-key', 'q', 'x', '--priority', 'high'], /^--priority takes an integer from 0 to 255, not 'high'/],
    [['--routing-key', 'q', 'x', '--priority', '256'], /^--priority takes an integer from 0 to 255/],
    [['--routing-key', 'q', 'x', '--count', '0'], /^--count takes an integer ≥ 1/],
    [['--routing-key', 'q', 'x', '--expiration', '1e3'], /^--expiration takes an integer ≥ 0/],
  ])('refuses a bad number as a usage error, before connecting: %j', async (args, message) => {
    await expect(runCli(capture().ctx, ['publish', '--url', 'memory://unused', ...args])).rejects.toMatchObject({
      exitCode: USAGE_EXIT_CODE,
      message: expect.stringMatching(message),
    });
  });

  it.each([
    [['--routing-key', 'q', 'x', '--header', 'novalue'], /--header must look like key=value/],
    [['x'], /nothing to route to/],
    [['--routing-key', 'q', 'x', '--persistent', '--transient'], /contradict/],
    [['--routing-key', 'q', '@/does/not/exist.json'], /cannot read the body/],
  ])('refuses bad input with a typed error: %j', async (args, message) => {
    const url = await broker(new Queue('q'));
    await expect(runCli(capture().ctx, ['publish', '--url', url, ...args])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: expect.stringMatching(message),
    });
  });

  it('fails with NotFoundError for a missing exchange', async () => {
    const url = await broker();
    await expect(
      runCli(capture().ctx, ['publish', '--url', url, '--exchange', 'missing', '--routing-key', 'k', 'x']),
    ).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});

describe('wakame consume', () => {
  async function withMessages(...bodies: string[]): Promise<string> {
    const url = await broker(new Queue('q'));
    for (const body of bodies) await run(['publish', '--url', url, '--routing-key', 'q', body]);
    return url;
  }

  it('shows messages and by default returns them all to the queue', async () => {
    const url = await withMessages('{"id":1}', 'two', '{"id":3}');
    const c = await run(['consume', 'q', '--url', url, '--timeout', '0.2']);
    expect(c.out[0]).toMatch(/^#1 · tag \S+ · routing key 'q' · first delivery · application\/json · 8 bytes$/);
    expect(c.out).toContain('{\n  "id": 1\n}');
    expect(c.out).toContain('two');
    expect(c.err.at(-1)).toMatch(/^3 messages from 'q', 3 returned to the queue .*Stopped: no message for 0.2 s\.$/);
    expect(await counts(url, 'q')).toEqual({ ready: 3, consumers: 0 });
  });

  it('stops after --count messages without waiting for the timeout', async () => {
    const url = await withMessages('1', '2', '3');
    const started = Date.now();
    const c = await run(['consume', 'q', '--url', url, '--count', '2', '--quiet']);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(c.out).toEqual(['1', '2']);
    expect(c.err).toEqual([]);
    expect((await counts(url, 'q')).ready).toBe(3);
  });

  it('removes the messages shown with --ack', async () => {
    const url = await withMessages('1', '2', '3');
    const c = await run(['consume', 'q', '--url', url, '--ack', '--count', '2']);
    expect(c.err.at(-1)).toMatch(/^2 messages from 'q', 2 acked \(removed\)\. Stopped: --count reached\.$/);
    expect((await counts(url, 'q')).ready).toBe(1);
  });

  it('stops after --timeout seconds of silence on an empty queue', async () => {
    const url = await broker(new Queue('q'));
    const started = Date.now();
    const c = await run(['consume', 'q', '--url', url, '--timeout', '0.1']);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(c.out).toEqual([]);
    expect(c.err.at(-1)).toMatch(/^0 messages .*no message for 0.1 s/);
  });

  it('prints one JSON line per message with --json', async () => {
    const url = await broker(new Queue('q'));
    await run(['publish', '--url', url, '--routing-key', 'q', '{"id":1}', '--header', 'h=v']);
    const dir = await mkdtemp(join(tmpdir(), 'wakame-'));
    await writeFile(join(dir, 'blob.bin'), 'hi');
    await run(['publish', '--url', url, '--routing-key', 'q', '@blob.bin'], { cwd: dir });
    const c = await run(['consume', 'q', '--url', url, '--count', '2', '--json']);
    expect(c.json).toEqual([]);
    expect(c.out).toHaveLength(2);
    const [first, second] = c.out.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toEqual({
      body: { id: 1 },
      properties: expect.objectContaining({ contentType: 'application/json', headers: { h: 'v' } }),
      headers: { h: 'v' },
      deliveryInfo: expect.objectContaining({ queue: 'q', exchange: '', routingKey: 'q', redelivered: false }),
    });
    expect(second).toMatchObject({ body: { base64: Buffer.from('hi').toString('base64') } });
  });

  it('shows a message that cannot be decoded raw, with the error, and never acks it', async () => {
    const url = await broker(new Queue('q'));
    await run(['publish', '--url', url, '--routing-key', 'q', '{broken', '--content-type', 'application/json']);
    const text = await run(['consume', 'q', '--url', url, '--count', '1']);
    expect(text.out[1]).toMatch(/^could not decode: .+; raw body \(base64\):$/);
    expect(text.out[2]).toBe(Buffer.from('{broken').toString('base64'));
    expect(text.err.at(-1)).toMatch(/1 could not be decoded \(shown raw\)/);
    const json = await run(['consume', 'q', '--url', url, '--count', '1', '--json']);
    expect(JSON.parse(json.out[0] ?? '')).toMatchObject({
      body: { base64: Buffer.from('{broken').toString('base64') },
      error: expect.any(String),
      deliveryInfo: { redelivered: true },
    });
    expect((await counts(url, 'q')).ready).toBe(1);
  });

  it('shows content types outside --accept raw', async () => {
    const url = await withMessages('plain text');
    const c = await run(['consume', 'q', '--url', url, '--count', '1', '--accept', 'json']);
    expect(c.out[1]).toMatch(/could not decode: .*text\/plain/);
    expect((await counts(url, 'q')).ready).toBe(1);
  });

  it('is bounded without --ack: stops once the window of held messages is full', async () => {
    const url = await broker(new Queue('q'));
    await run(['publish', '--url', url, '--routing-key', 'q', 'm', '--count', '205']);
    const result: ConsumeResult = await consume(capture({ quiet: true }).ctx, 'q', { url, timeout: 30 });
    expect(result).toMatchObject({ shown: 200, requeued: 200, stoppedBy: 'window' });
    expect((await counts(url, 'q')).ready).toBe(205);
  });

  it('stops on the context signal, even with --timeout 0', async () => {
    const url = await withMessages('1');
    const controller = new AbortController();
    const c = capture({ signal: controller.signal, quiet: true });
    const out = c.ctx.out;
    const stopAfterFirst = (text: string): void => {
      out(text);
      controller.abort();
    };
    const running = consume({ ...c.ctx, out: stopAfterFirst }, 'q', { url, timeout: 0 });
    await expect(running).resolves.toMatchObject({ shown: 1, stoppedBy: 'signal' });
    expect((await counts(url, 'q')).ready).toBe(1);
  });

  it('fails with NotFoundError for a missing queue, and refuses --ack with --requeue', async () => {
    const url = await broker();
    await expect(runCli(capture().ctx, ['consume', 'nope', '--url', url])).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    await expect(runCli(capture().ctx, ['consume', 'q', '--url', url, '--ack', '--requeue'])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    await expect(runCli(capture().ctx, ['consume', 'q', '--url', url, '--timeout', '-1'])).rejects.toMatchObject({
      exitCode: USAGE_EXIT_CODE,
      message: expect.stringContaining('--timeout'),
    });
  });
});

describe('wakame inspect', () => {
  it('prints a table of queues with ready messages and consumers, and the totals', async () => {
    const url = await broker(new Exchange('events', { type: 'topic' }), new Queue('alpha'), new Queue('beta-queue'));
    await run(['publish', '--url', url, '--routing-key', 'alpha', 'x', '--count', '12']);
    const c = await run(['inspect', '--url', url]);
    expect(c.out).toEqual([
      `Queues on ${url}:`,
      'QUEUE       READY  CONSUMERS',
      'alpha          12          0',
      'beta-queue      0          0',
      expect.stringMatching(/^2 queues, \d+ exchanges?, 0 bindings; 12 messages ready, 0 consumers\.$/),
    ]);
  });

  it('counts live consumers', async () => {
    const url = await broker(new Queue('busy'));
    const connection = await Connection.open(url);
    try {
      const consumer = await connection.consumer({ queues: ['busy'], handler: () => {} }).consume();
      const c = await run(['inspect', '--url', url, '--quiet']);
      expect(c.out).toEqual(['QUEUE  READY  CONSUMERS', 'busy       0          1']);
      await consumer.close();
    } finally {
      await connection.close();
    }
  });

  it('prints the observed topology plus counts with --json', async () => {
    const url = await broker(new Queue('q'));
    await run(['publish', '--url', url, '--routing-key', 'q', '{}', '--count', '2']);
    const c = await run(['inspect', '--url', url, '--json']);
    expect(c.json).toEqual([
      expect.objectContaining({
        url,
        complete: true,
        queues: [expect.objectContaining({ name: 'q', durable: true, messageCount: 2, ready: 2, consumers: 0 })],
        bindings: [],
        counts: expect.objectContaining({ queues: 1, bindings: 0, ready: 2, consumers: 0 }),
      }),
    ]);
  });

  it('redraws with --watch until the context signal aborts', async () => {
    const url = await broker(new Queue('q'));
    const controller = new AbortController();
    const c = capture({ signal: controller.signal });
    let rounds = 0;
    const out = c.ctx.out;
    const ctx = {
      ...c.ctx,
      out: (text: string) => {
        out(text);
        if (text.startsWith('Every ') && ++rounds === 3) controller.abort();
      },
    };
    await runCli(ctx, ['inspect', '--url', url, '--watch', '0.1']);
    expect(rounds).toBe(3);
    expect(c.out.filter((line) => line.startsWith('QUEUE'))).toHaveLength(3);
  });

  it('refuses a bad --watch interval as a usage error', async () => {
    await expect(runCli(capture().ctx, ['inspect', '--url', await broker(), '--watch', 'often'])).rejects.toMatchObject(
      { exitCode: USAGE_EXIT_CODE, message: expect.stringMatching(/^--watch takes a number of seconds from 0.1 to/) },
    );
  });
});

describe('wakame purge', () => {
  async function filled(n: number): Promise<string> {
    const url = await broker(new Queue('q'));
    await run(['publish', '--url', url, '--routing-key', 'q', 'x', '--count', String(n)]);
    return url;
  }

  it('purges with --yes and prints how many messages went', async () => {
    const url = await filled(4);
    const c = await run(['purge', 'q', '--url', url, '--yes']);
    expect(c.out).toEqual(["Purged 4 messages from queue 'q'."]);
    expect((await counts(url, 'q')).ready).toBe(0);
  });

  it('prints only the number with --quiet, and an object with --json', async () => {
    const url = await filled(2);
    expect((await run(['purge', 'q', '--url', url, '--yes', '--quiet'])).out).toEqual(['2']);
    expect((await run(['purge', 'q', '--url', url, '-y', '--json'])).json).toEqual([{ queue: 'q', purged: 0 }]);
  });

  it('refuses without --yes when there is nobody to ask', async () => {
    const url = await filled(3);
    const { error } = await exitError(['purge', 'q', '--url', url]);
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/Pass --yes/);
    expect((await counts(url, 'q')).ready).toBe(3);
  });

  it('asks through the context, and purges nothing when the answer is no', async () => {
    const url = await filled(3);
    const questions: string[] = [];
    const no = async (question: string): Promise<boolean> => {
      questions.push(question);
      return false;
    };
    const { error } = await exitError(['purge', 'q', '--url', url], { confirm: no });
    expect(error.message).toMatch(/nothing was purged/);
    expect(questions).toEqual([expect.stringMatching(/^Purge 3 ready messages from queue 'q' on memory:\/\//)]);
    expect((await counts(url, 'q')).ready).toBe(3);
    const yes = async () => true;
    expect((await run(['purge', 'q', '--url', url], { confirm: yes })).out).toEqual([
      "Purged 3 messages from queue 'q'.",
    ]);
  });

  it('fails with NotFoundError for a missing queue, before asking', async () => {
    const url = await broker();
    const questions: string[] = [];
    const c = capture({ confirm: async (question) => questions.push(question) > 0 });
    await expect(runCli(c.ctx, ['purge', 'nope', '--url', url])).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      entity: { kind: 'queue', name: 'nope' },
    });
    expect(questions).toEqual([]);
  });
});

describe('askYesNo', () => {
  it.each([
    ['y\n', true],
    ['YES\n', true],
    ['n\n', false],
    ['\n', false],
    ['', false],
  ])('reads %j as %s', async (answer, expected) => {
    const input = new PassThrough();
    const output = new PassThrough();
    const asked = askYesNo('Purge?', input, output);
    input.end(answer);
    await expect(asked).resolves.toBe(expected);
    expect(String(output.read())).toBe('Purge? [y/N] ');
  });
});

describe('messaging command lines', () => {
  it.each(['publish', 'consume', 'inspect', 'purge'])('%s --help shows examples and exits 0', async (command) => {
    const { error, out } = await exitError([command, '--help']);
    expect(error.exitCode).toBe(0);
    expect(out.join('\n')).toContain('Examples:');
    expect(out.join('\n')).toContain('--url');
  });
});

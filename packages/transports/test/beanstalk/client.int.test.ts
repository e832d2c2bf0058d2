/**
 * The in-tree beanstalkd client and store against the real server: pipelining, the server's refusals as
 * typed errors, jobs of a closed connection coming back, and TTR renewal of a held job.
 */
import { randomBytes } from 'node:crypto';
import type { StoredMessage } from '@wakame/core/spi';
import { BEANSTALK_URL, brokerGate, waitFor } from '@wakame/testkit';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { BeanstalkStore } from '../../src/beanstalk/beanstalk-store.js';
import type { Receipt } from '../../src/beanstalk/claimer.js';
import { BeanstalkClient, BeanstalkCommandError } from '../../src/beanstalk/client.js';
import { queueTube } from '../../src/beanstalk/jobs.js';
import { drainTubes } from './drain-tubes.js';

const gate = await brokerGate('beanstalk client', { name: 'beanstalk', url: BEANSTALK_URL });
const server = new URL(BEANSTALK_URL);
const where = { host: server.hostname, port: Number(server.port || 11300), connectTimeoutMs: 5_000 };
const opened: { close(): unknown }[] = [];

async function client(): Promise<BeanstalkClient> {
  const c = await BeanstalkClient.connect(where);
  opened.push(c);
  return c;
}

const run = `client${randomBytes(3).toString('hex')}`;
/** A tube no other test uses. */
const freshTube = (): string => `${run}${randomBytes(4).toString('hex')}`;

/** A store on `prefix`; stores of different `process` names share nothing in this process, like two processes. */
function store(prefix: string, ttrSeconds = 60, process = 'one'): BeanstalkStore {
  const s = new BeanstalkStore({
    identity: `test/${process}/${prefix}`,
    server: '127.0.0.1:11300',
    prefix,
    ttrSeconds,
    topologyPollMs: 1_000,
    connect: () => BeanstalkClient.connect(where),
    onError: () => undefined,
  });
  opened.push(s);
  return s;
}

const message = (n: number): StoredMessage => ({
  id: `m${n}`,
  body: Buffer.from(`body ${n}`),
  properties: { headers: { n } },
  exchange: '',
  routingKey: 'q',
  priority: 0,
  expiresAt: undefined,
  redelivered: false,
});

afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});

afterAll(async () => {
  if (gate !== 'skip') await drainTubes(BEANSTALK_URL, [run]);
});

describe.skipIf(gate === 'skip')('beanstalk client on a real server', () => {
  it('pipelines commands: 200 puts and reserves sent without waiting come back in order', async () => {
    const c = await client();
    const tube = freshTube();
    await Promise.all([c.use(tube), c.watch(tube)]);
    const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => c.put(100, 0, 60, Buffer.from(`job ${i}`))));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    await c.ignore('default');
    const jobs = await Promise.all(ids.map(() => c.reserve(0)));
    expect(jobs.map((j) => j?.body.toString())).toEqual(ids.map((_, i) => `job ${i}`));
    expect(await Promise.all(ids.map((id) => c.delete(id)))).toEqual(ids.map(() => true));
    expect(await c.reserve(0)).toBeUndefined();
  });

  it("turns the server's refusals into BeanstalkCommandError and carries on", async () => {
    const c = await client();
    const max = Number((await c.stats())['max-job-size']);
    const tooBig = await c.put(0, 0, 60, Buffer.alloc(max + 1)).catch((error: unknown) => error);
    expect(tooBig).toBeInstanceOf(BeanstalkCommandError);
    expect(tooBig).toMatchObject({
      code: 'ERR_BEANSTALK_COMMAND',
      reply: 'JOB_TOO_BIG',
      command: 'put',
      retriable: false,
    });
    const badName = await c.use('-not-a-tube').catch((error: unknown) => error);
    expect(badName).toMatchObject({ code: 'ERR_BEANSTALK_COMMAND', reply: 'BAD_FORMAT' });
    // The connection is still in step with the server.
    const tube = freshTube();
    await c.use(tube);
    const id = await c.put(0, 0, 60, Buffer.from('after'));
    expect((await c.peek(id))?.body.toString()).toBe('after');
    expect(await c.delete(id)).toBe(true);
  });

  it('fails a refused connect with ConnectionError, and pending commands of a closed connection too', async () => {
    const refused = await BeanstalkClient.connect({ ...where, port: 1 }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'ERR_CONNECTION' });
    const c = await client();
    const tube = freshTube();
    await Promise.all([c.watch(tube), c.ignore('default')]);
    const waiting = c.reserve(30);
    c.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
    expect(c.closed).toBe(true);
  });

  it('a job reserved by a connection that closes is back in its queue, marked redelivered', async () => {
    const prefix = `${freshTube()}.`;
    const first = store(prefix);
    await first.open();
    await first.put('q', message(1));
    expect((await first.get('q'))?.message.redelivered).toBe(false);
    await first.close();

    const second = store(prefix);
    await second.open();
    const again = await waitFor(() => second.get('q'), { what: 'the job back in its tube' });
    expect(again.message).toMatchObject({ id: 'm1', redelivered: true, properties: { headers: { n: 1 } } });
    expect(again.message.body.toString()).toBe('body 1');
    await second.settle(again.receipt, 'ack');
    expect(await second.size('q')).toBe(0);
  });

  it("wakes a consumer idle on an empty queue when another process's put arrives", async () => {
    const prefix = `${freshTube()}.`;
    const consuming = store(prefix, 60, 'consumer');
    const publishing = store(prefix, 60, 'publisher');
    await Promise.all([consuming.open(), publishing.open()]);
    const woken: string[] = [];
    consuming.watch((queue) => woken.push(queue));
    consuming.addConsumer('q', 'tag');
    // The claim finds nothing, which arms the queue's waiter (a blocking reserve on its own connection).
    expect(await consuming.getMany('q', 10)).toEqual([]);
    await publishing.put('q', message(3));
    await waitFor(() => woken.includes('q'), { timeoutMs: 20_000, what: "the waiter's wake-up" });
    // The waiter gave the job back untouched: the consumer claims it, not redelivered.
    const [claimed] = await consuming.getMany('q', 10);
    expect(claimed?.message).toMatchObject({ id: 'm3', redelivered: false });
  });

  it('keeps touching a held job, so it outlives its TTR while its holder lives', async () => {
    const prefix = `${freshTube()}.`;
    const s = store(prefix, 2);
    await s.open();
    await s.put('q', message(2));
    const claimed = await s.get('q');
    if (!claimed) throw new Error('the message was not claimed');
    const jobId = (claimed.receipt as Receipt).jobId;
    const observer = await client();
    // Three seconds old with a TTR of two: without a touch it would have timed out by now.
    const stats = await waitFor(
      async () => {
        const st = await observer.statsJob(jobId);
        return Number(st?.age) >= 3 ? st : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the held job to be three seconds old' },
    );
    expect(stats).toMatchObject({ state: 'reserved', timeouts: '0', tube: queueTube(prefix, 'q') });
    await s.settle(claimed.receipt, 'ack');
    expect(await observer.statsJob(jobId)).toBeUndefined();
  }, 30_000);

  it('tells its consumed queues to claim again every 2 s even without a wake-up, and stops once nobody consumes', async () => {
    const prefix = `${freshTube()}.`;
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const s = store(prefix);
      await s.open();
      const told: string[] = [];
      s.watch((queue) => told.push(queue));
      const stop = s.addConsumer('q', 'tag');
      vi.advanceTimersByTime(2_000);
      expect(told.filter((q) => q === 'q')).toHaveLength(1);
      vi.advanceTimersByTime(4_000);
      expect(told.filter((q) => q === 'q')).toHaveLength(3);
      stop();
      told.length = 0;
      vi.advanceTimersByTime(6_000);
      expect(told).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});

/**
 * beanstalkd messaging on the local server (`BEANSTALK_URL`), the same ~200-byte JSON message, each
 * Wakame figure beside a raw client doing the same work:
 * (a) publish, 500 in flight: the raw side pipelines 500 `put`s per round trip on one connection, as
 *     Wakame's producer connection does, each job the bytes Wakame writes (its header line + the body);
 * (b) consume with an ack per message and each body decoded, one consumer: the raw side pipelines 100
 *     `reserve-with-timeout 0` on one connection, decodes each body and pipelines the `delete`s, with the
 *     next batch of reserves in flight meanwhile; Wakame's consumer (prefetch 200) does the same and also
 *     asks `stats-job` per job (how it knows a message is redelivered), which the ratio includes.
 * The raw client is the in-tree protocol client (`BeanstalkClient`): no npm beanstalkd client is
 * installed in this workspace. Each round uses tubes of its own prefix, drained by its consume.
 */
import { randomBytes } from 'node:crypto';
import { Connection } from '@wakame/core';
import { BeanstalkClient, encodeJob } from '@wakame/transports/beanstalk';
import { type Benchmark, consumeRate, type Figure, inWindows, now, Rounds, rate } from './harness.js';
import { benchMessage, check, wakamePublishRate } from './publish-rate.js';

const URL_BASE = process.env.BEANSTALK_URL ?? 'beanstalk://127.0.0.1:11300';
const COUNT = 10_000;
const WINDOW = 500;
const BATCH = 100;
const PREFETCH = 200;
const ROUNDS = 5;
const QUEUE = 'bench';
const PHASE_TIMEOUT_MS = 60_000;

async function raw(): Promise<BeanstalkClient> {
  const u = new URL(URL_BASE);
  return BeanstalkClient.connect({ host: u.hostname, port: Number(u.port || 11300), connectTimeoutMs: 5_000 });
}

/** The job Wakame writes for message `i` (header line + JSON body), so both sides move the same bytes. */
function job(i: number): Buffer {
  return encodeJob(benchMessage(i, QUEUE));
}

async function rawPublish(client: BeanstalkClient, tube: string): Promise<number> {
  await client.use(tube);
  const jobs = Array.from({ length: COUNT }, (_, i) => job(i));
  const start = now();
  await inWindows(COUNT, WINDOW, (i) => client.put(511, 0, 60, jobs[i] as Buffer));
  const ms = now() - start;
  const ready = Number((await client.statsTube(tube))?.['current-jobs-ready']);
  check(ready === COUNT, `raw publish: tube holds ${ready} jobs, not ${COUNT}`);
  return rate(COUNT, ms);
}

async function rawConsume(client: BeanstalkClient, tube: string): Promise<number> {
  await client.watch(tube);
  await client.ignore('default');
  const fetch = () => Promise.all(Array.from({ length: BATCH }, () => client.reserve(0)));
  let got = 0;
  const start = now();
  let next = fetch();
  const deletes: Promise<boolean>[] = [];
  while (got < COUNT) {
    check(now() - start < PHASE_TIMEOUT_MS, `raw consume: ${got}/${COUNT} after ${PHASE_TIMEOUT_MS} ms`);
    const jobs = (await next).filter((j) => j !== undefined);
    check(jobs.length > 0, `raw consume: the tube ran dry after ${got}/${COUNT}`);
    got += jobs.length;
    if (got < COUNT) next = fetch();
    for (const j of jobs) {
      JSON.parse(j.body.toString('utf8', j.body.indexOf(10) + 1));
      deletes.push(client.delete(j.id));
    }
  }
  check((await Promise.all(deletes)).every(Boolean), 'raw consume: a delete found no job');
  return rate(COUNT, now() - start);
}

async function messaging(): Promise<Figure[]> {
  const rounds = new Rounds();
  for (let r = 0; r < ROUNDS; r++) {
    const prefix = `bench${randomBytes(4).toString('hex')}.`;
    const producer = await raw();
    const consumer = await raw();
    try {
      await rounds.take('raw.publish', () => rawPublish(producer, `${prefix}raw`));
      await rounds.take('raw.consume', () => rawConsume(consumer, `${prefix}raw`));
    } finally {
      producer.close();
      consumer.close();
    }
    const connection = await Connection.open(`${URL_BASE}?prefix=${prefix}`);
    try {
      await connection.admin.declareQueue({
        name: QUEUE,
        durable: true,
        exclusive: false,
        autoDelete: false,
        arguments: {},
      });
      await rounds.take('wakame.publish', () => wakamePublishRate(connection, QUEUE, COUNT, WINDOW));
      await rounds.take('wakame.consume', () =>
        consumeRate(connection, QUEUE, COUNT, { prefetch: PREFETCH, decode: true }),
      );
      await connection.admin.deleteQueue(QUEUE);
    } finally {
      await connection.close();
    }
  }
  return [
    rounds.figure('raw.publish', {
      name: 'beanstalk.raw.publish',
      unit: 'msg/s',
      note: `in-tree client, ${WINDOW} puts pipelined per round trip, Wakame's job bytes`,
    }),
    rounds.figure('wakame.publish', {
      name: 'beanstalk.wakame.publish',
      unit: 'msg/s',
      ceiling: 'beanstalk.raw.publish',
      note: `Producer.publish, ${WINDOW} in flight`,
    }),
    rounds.figure('raw.consume', {
      name: 'beanstalk.raw.consume-ack',
      unit: 'msg/s',
      note: `in-tree client, ${BATCH} reserves pipelined (next batch in flight), decode, deletes pipelined`,
    }),
    rounds.figure('wakame.consume', {
      name: 'beanstalk.wakame.consume-ack',
      unit: 'msg/s',
      ceiling: 'beanstalk.raw.consume-ack',
      note: `Consumer handler, prefetch ${PREFETCH}, decode() + ack() each (+ a stats-job per claim)`,
    }),
  ];
}

export const beanstalkBenchmarks: readonly Benchmark[] = [{ name: 'beanstalk.messaging', run: messaging }];

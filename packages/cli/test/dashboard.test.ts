/** The dashboard's pieces without a server: depth history and rates, redaction, which queues hold dead letters. */
import { compileTopology, defineTopology } from '@wakame/core';
import { describe, expect, it } from 'vitest';
import { DepthHistory } from '../src/dashboard/history.js';
import { deadLetterQueues } from '../src/dashboard/monitor.js';
import { Redactor, withoutCredentials } from '../src/dashboard/redact.js';
import { parseWorkerUrls } from '../src/dashboard/workers.js';

describe('DepthHistory', () => {
  it('keeps a bounded series per listed queue and forgets queues no longer listed', () => {
    const history = new DepthHistory(3);
    for (let i = 0; i < 5; i++)
      history.record(
        i * 1000,
        new Map([
          ['a', i],
          ['b', 10],
        ]),
      );
    expect(history.of('a').map((s) => s.ready)).toEqual([2, 3, 4]);
    history.record(5000, new Map([['a', 5]]));
    expect(history.of('b')).toEqual([]);
  });

  it('gives the net rate in messages per second, null before two samples', () => {
    const history = new DepthHistory();
    history.record(0, new Map([['q', 10]]));
    expect(history.netRate('q')).toBeNull();
    history.record(2000, new Map([['q', 4]]));
    expect(history.netRate('q')).toBe(-3);
    history.record(4000, new Map([['q', 14]]));
    expect(history.netRate('q')).toBe(1);
  });
});

describe('Redactor', () => {
  it('masks the passwords of every URL given, raw and percent-decoded, in failover lists too', () => {
    const redactor = new Redactor([
      'amqp://app:s3cr%40t@a//;amqp://app:other@b//',
      'http://admin:mgmt-pw@127.0.0.1:15672',
      undefined,
    ]);
    expect(redactor.redact('x s3cr%40t s3cr@t other mgmt-pw y')).toBe('x **** **** **** **** y');
    expect(new Redactor(['file://./.wakame']).redact('file://./.wakame')).toBe('file://./.wakame');
  });

  it('shows URLs without their user information', () => {
    expect(withoutCredentials('http://u:p@127.0.0.1:9464/')).toBe('http://127.0.0.1:9464');
  });
});

describe('deadLetterQueues', () => {
  it("finds the worker's default queue, tasks' queues and queues bound to dead-letter exchanges", () => {
    const topology = defineTopology({
      exchanges: [
        { name: 'work', type: 'direct' },
        { name: 'dead', type: 'fanout' },
      ],
      queues: [
        { name: 'jobs', deadLetter: { exchange: 'dead' }, bindings: [{ exchange: 'work', routingKey: 'jobs' }] },
        { name: 'parked', bindings: [{ exchange: 'dead' }] },
        { name: 'retry', deadLetter: { exchange: '', routingKey: 'jobs' } },
        { name: 'manual' },
      ],
      tasks: [{ name: 't', route: { exchange: 'work', routingKey: 'jobs' }, deadLetter: { queue: 'manual' } }],
    });
    expect([...deadLetterQueues(compileTopology(topology))].sort()).toEqual([
      'jobs',
      'manual',
      'parked',
      'wakame.dead-letter',
    ]);
    expect([...deadLetterQueues(undefined)]).toEqual(['wakame.dead-letter']);
  });
});

describe('parseWorkerUrls', () => {
  it('takes http(s) URLs and refuses anything else with a clear error', () => {
    expect(parseWorkerUrls(['http://127.0.0.1:9464/'])).toEqual(['http://127.0.0.1:9464']);
    expect(() => parseWorkerUrls(['127.0.0.1:9464'])).toThrow(/--worker takes/);
    expect(() => parseWorkerUrls(['ftp://x'])).toThrow(/http:\/\/ or https:\/\//);
  });
});

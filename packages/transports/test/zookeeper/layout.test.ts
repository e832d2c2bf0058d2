/**
 * The znode names and entry data of both layouts, without a server: names sort as delivery order, kombu's names
 * are kazoo's `Queue.put` names, paths ZooKeeper cannot take are refused, and an entry's data reads back as written
 * (the Wakame layout keeps the body's bytes as they are; a chunked body is named, not inlined).
 */

import { parseBrokerUrl } from '@wakame/core';
import { InvalidArgumentError, type StoredMessage } from '@wakame/core/spi';
import { describe, expect, it } from 'vitest';
import { decodeEntry, EntryFormatError, encodeEntry } from '../../src/zookeeper/entry-codec.js';
import { zookeeperTransport } from '../../src/zookeeper/index.js';
import { rootOf, zkLayout } from '../../src/zookeeper/layout.js';

const message: StoredMessage = {
  id: 'id-1',
  body: Buffer.from([0, 10, 255, 13, 10]),
  properties: { contentType: 'application/data', headers: { a: 'x\ny' }, priority: 7 },
  exchange: 'ex',
  routingKey: 'rk\nwith newline',
  priority: 7,
  expiresAt: 1_700_000_000_000,
  redelivered: false,
};

describe('zookeeper layout', () => {
  it('names Wakame entries so that sorting gives highest priority first, then publish order', () => {
    const layout = zkLayout('wakame', '/r');
    const names = [
      `${layout.entryPrefix(0)}0000000001`,
      `${layout.entryPrefix(255)}0000000002`,
      `${layout.entryPrefix(7)}0000000003`,
      `${layout.entryPrefix(7)}0000000000`,
    ];
    expect(names.sort()).toEqual(['m-000-0000000002', 'm-248-0000000000', 'm-248-0000000003', 'm-255-0000000001']);
    expect(names.map((n) => layout.priorityOf(n))).toEqual([255, 7, 7, 0]);
    expect(layout.priorityOf('delivered')).toBeUndefined();
  });

  it("names kombu entries as kazoo's Queue.put does: entry-<9 - p>-, priorities above 9 as 9", () => {
    const layout = zkLayout('kombu', '/vhost');
    expect([0, 5, 9, 200].map((p) => layout.entryPrefix(p))).toEqual([
      'entry-009-',
      'entry-004-',
      'entry-000-',
      'entry-000-',
    ]);
    expect(layout.priorityOf('entry-004-0000000012')).toBe(5);
    expect(layout.priorityOf('m-004-0000000012')).toBeUndefined();
  });

  it("puts kombu's queues at <root>/<queue> and Wakame's records under <root>/.wakame", () => {
    const layout = zkLayout('kombu', '/vhost');
    expect(layout.queue('celery')).toBe('/vhost/celery');
    expect(layout.topology).toBe('/vhost/.wakame/topology');
    expect(zkLayout('kombu', '/').queue('q')).toBe('/q');
  });

  it('percent-encodes Wakame queue names (a slash or a dot never makes a deeper or a special znode)', () => {
    const layout = zkLayout('wakame', '/r');
    expect(layout.queue('a/b')).toBe('/r/queues/a%2Fb');
    expect(layout.queue('..')).toBe('/r/queues/%2E%2E');
    expect(layout.claims('a.b')).toBe('/r/claims/a%2Eb');
  });

  it('refuses roots and kombu queue names ZooKeeper cannot take, and empty queue names', () => {
    expect(rootOf('a/b/')).toBe('/a/b');
    expect(rootOf('')).toBe('/');
    expect(() => rootOf('a/../b')).toThrow(InvalidArgumentError);
    expect(() => zkLayout('kombu', '/v').queue('a/./b')).toThrow(InvalidArgumentError);
    expect(() => zkLayout('wakame', '/v').queue('')).toThrow(InvalidArgumentError);
  });
});

describe('zookeeper entry data', () => {
  it('round-trips a Wakame entry, the body byte for byte after one header line', () => {
    const data = encodeEntry('wakame', message);
    expect(data.subarray(data.indexOf(10) + 1).equals(message.body)).toBe(true);
    const { message: back, blob } = decodeEntry('wakame', data, 7);
    expect(blob).toBeUndefined();
    expect({ ...back, body: back.body.toString('hex') }).toEqual({ ...message, body: message.body.toString('hex') });
  });

  it('names a chunked body instead of carrying it', () => {
    const data = encodeEntry('wakame', message, { key: 'k', n: 3 });
    expect(data.at(-1)).toBe(10);
    const { message: back, blob } = decodeEntry('wakame', data, 7);
    expect(blob).toEqual({ key: 'k', n: 3 });
    expect(back.body.length).toBe(0);
  });

  it("writes kombu's envelope in the kombu layout, read back with the entry's priority", () => {
    const data = encodeEntry('kombu', message).toString('utf8');
    expect(data).toMatch(/^\{"body": "AAr\/DQo=", "content-encoding": null, "content-type": "application\/data"/);
    expect(JSON.parse(data).properties.priority).toBe(7);
    const { message: back } = decodeEntry('kombu', Buffer.from(data), 2);
    expect(back.priority).toBe(2);
    expect(back.properties.priority).toBe(7);
    expect(back.body.equals(message.body)).toBe(true);
  });

  it('refuses data without a header line or with a header that is not one of ours', () => {
    expect(() => decodeEntry('wakame', Buffer.from('no newline'), 0)).toThrow(EntryFormatError);
    expect(() => decodeEntry('wakame', Buffer.from('{"x": 1}\nbody'), 0)).toThrow(EntryFormatError);
    expect(() => decodeEntry('wakame', Buffer.from('not json\nbody'), 0)).toThrow(EntryFormatError);
  });
});

describe('zookeeper URL options', () => {
  const options = { heartbeat: 0, connectTimeoutMs: 1_000, extra: {} } as never;
  it('refuses an unknown layout, a bad session timeout and a malformed ensemble', () => {
    for (const url of [
      'zookeeper://127.0.0.1:2181/r?layout=kazoo',
      'zookeeper://127.0.0.1:2181/r?session_timeout=soon',
      'zookeeper://127.0.0.1:2181/r?ensemble=h2',
      'zookeeper://127.0.0.1:2181/r?max_node_bytes=10',
    ]) {
      expect(() => zookeeperTransport(parseBrokerUrl(url), options), url).toThrow(InvalidArgumentError);
    }
  });
});

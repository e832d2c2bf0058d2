import { describe, expect, it } from 'vitest';
import { BeanstalkTopology } from '../../src/beanstalk/beanstalk-topology.js';
import type { BeanstalkClient, Job } from '../../src/beanstalk/client.js';

/** The record tube of one fake server: ready jobs by id, and the ones a connection has reserved. */
class FakeServer {
  nextId = 1;
  readonly ready = new Map<number, Buffer>();
  readonly reserved = new Map<number, Buffer>();
  /** While set, a peek's reply is held back until it resolves (the reader's reply read late). */
  peekGate: Promise<void> | undefined;
}

/** Just enough of a beanstalkd connection for the topology record (one tube, no parts). */
class FakeClient {
  closed = false;
  constructor(private readonly server: FakeServer) {}
  async use(): Promise<void> {}
  async useOnly(): Promise<void> {}
  async stats(): Promise<Record<string, string>> {
    return { 'max-job-size': '65535' };
  }
  async statsTube(): Promise<Record<string, string>> {
    const s = this.server;
    return { 'current-jobs-ready': String(s.ready.size), 'current-jobs-reserved': String(s.reserved.size) };
  }
  async peekReady(): Promise<Job | undefined> {
    // The server answers at once, with what is ready now; the reply may be read later.
    const first = [...this.server.ready.entries()].sort(([a], [b]) => a - b)[0];
    if (this.server.peekGate) await this.server.peekGate;
    return first && { id: first[0], body: first[1] };
  }
  async reserve(): Promise<Job | undefined> {
    const first = [...this.server.ready.entries()].sort(([a], [b]) => a - b)[0];
    if (!first) return undefined;
    this.server.ready.delete(first[0]);
    this.server.reserved.set(first[0], first[1]);
    return { id: first[0], body: first[1] };
  }
  async reserveAll(): Promise<Job[]> {
    const held: Job[] = [];
    for (let job = await this.reserve(); job; job = await this.reserve()) held.push(job);
    return held;
  }
  async put(_pri: number, _delay: number, _ttr: number, body: Buffer): Promise<number> {
    const id = this.server.nextId++;
    this.server.ready.set(id, body);
    return id;
  }
  async delete(id: number): Promise<boolean> {
    return this.server.reserved.delete(id) || this.server.ready.delete(id);
  }
  async release(id: number): Promise<boolean> {
    const body = this.server.reserved.get(id);
    if (!body) return false;
    this.server.reserved.delete(id);
    this.server.ready.set(id, body);
    return true;
  }
  close(): void {
    this.closed = true;
  }
}

/** A topology record on `server`, read only when asked (no check on publish), that fails the test on an error. */
function topologyOn(server: FakeServer): BeanstalkTopology {
  return new BeanstalkTopology(
    async () => new FakeClient(server) as unknown as BeanstalkClient,
    'p.(wakame)topology',
    'p.(wakame)parts',
    60_000,
    (error) => {
      throw error;
    },
    false,
  );
}

describe('beanstalk topology record', () => {
  it('keeps a change of its own when a read that began before it is answered after it', async () => {
    const server = new FakeServer();
    const topology = topologyOn(server);
    await topology.open();
    await topology.putQueue({ name: 'first', durable: true, autoDelete: false, exclusive: false, arguments: {} });
    const before = topology.revision();

    // A poll peeks at the record that holds only 'first'; its reply is read only after this process's
    // next change has replaced the record.
    let answer!: () => void;
    server.peekGate = new Promise((resolve) => {
      answer = resolve;
    });
    const polling = topology.refresh();
    await new Promise((resolve) => setImmediate(resolve));
    server.peekGate = undefined;
    await topology.putQueue({ name: 'second', durable: true, autoDelete: false, exclusive: false, arguments: {} });
    answer();
    await polling;

    expect(topology.revision()).toBeGreaterThan(before as number);
    const names = (await topology.snapshot()).queues.map((q) => q.name).sort();
    expect(names).toEqual(['first', 'second']);
    topology.close();
  });

  it('leaves the record alone when a queue is declared again exactly as it is', async () => {
    const server = new FakeServer();
    const topology = topologyOn(server);
    await topology.open();
    const spec = { name: 'q', durable: true, autoDelete: false, exclusive: false, arguments: {} };
    await topology.putQueue(spec);
    const revision = topology.revision();
    const jobs = server.nextId;
    await topology.putQueue({ ...spec });
    expect(topology.revision()).toBe(revision);
    expect(server.nextId).toBe(jobs);
    // The same settings written in another key order are the same declaration.
    const { name, ...rest } = spec;
    await topology.putQueue({ ...rest, name });
    expect(topology.revision()).toBe(revision);
    expect(server.nextId).toBe(jobs);
    await topology.putQueue({ ...spec, durable: false });
    expect(topology.revision()).toBe((revision as number) + 1);
    topology.close();
  });
});

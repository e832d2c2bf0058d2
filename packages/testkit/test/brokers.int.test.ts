import { connect, createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AMQP_URL, brokerGate, brokersRequired, probe, RABBITMQ_MANAGEMENT_URL, REDIS_URL } from '../src/brokers.js';

/** A loopback port that nothing listens on: bind an ephemeral port, then release it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('brokersRequired', () => {
  it('reads WAKAME_REQUIRE_BROKERS and CI', () => {
    expect(brokersRequired({})).toBe(false);
    expect(brokersRequired({ WAKAME_REQUIRE_BROKERS: '1' })).toBe(true);
    expect(brokersRequired({ CI: 'true' })).toBe(true);
    expect(brokersRequired({ CI: 'true', WAKAME_REQUIRE_BROKERS: '0' })).toBe(false);
    expect(brokersRequired({ CI: 'false' })).toBe(false);
  });
});

describe('probe', () => {
  it('returns false for a closed port', async () => {
    expect(await probe(`amqp://127.0.0.1:${await closedPort()}`)).toBe(false);
  });

  it('returns true for a listening port', async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      expect(await probe(`redis://127.0.0.1:${address.port}/0`)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses non-loopback hosts and never echoes passwords', async () => {
    await expect(probe('amqp://guest:secret@rabbit.example.com:5672//')).rejects.toThrow(/non-loopback/);
    const error = await probe('amqp://guest:s3cr3t@[bad').catch((e: unknown) => e);
    expect((error as Error).message).not.toContain('s3cr3t');
  });
});

describe('brokerGate when the broker is down', () => {
  it('throws when brokers are required, naming broker and address but not the password', async () => {
    const url = `amqp://guest:hunter2@127.0.0.1:${await closedPort()}//`;
    const error = await brokerGate('gate test', { name: 'rabbitmq', url }, { WAKAME_REQUIRE_BROKERS: '1' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/rabbitmq not reachable at amqp:\/\/127\.0\.0\.1:\d+/);
    expect(message).toContain('WAKAME_REQUIRE_BROKERS');
    expect(message).not.toContain('hunter2');
  });

  it('returns skip with a single stderr notice when brokers are optional', async () => {
    const port = await closedPort();
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const check = { name: 'redis', url: `redis://:hunter2@127.0.0.1:${port}/0` } as const;
    expect(await brokerGate('optional suite', check, {})).toBe('skip');
    expect(await brokerGate('optional suite', check, {})).toBe('skip');
    expect(write).toHaveBeenCalledTimes(1);
    expect(String(write.mock.calls[0]?.[0])).toBe(
      `[wakame] skipping optional suite: redis not reachable at redis://127.0.0.1:${port} (set WAKAME_REQUIRE_BROKERS=1 to make this an error)\n`,
    );
  });
});

// The live part is gated like any broker suite: skipped with a notice on a laptop without brokers, a failing file
// in CI.
const rabbit = await brokerGate('testkit live rabbitmq', { name: 'rabbitmq', url: AMQP_URL });
const redis = await brokerGate('testkit live redis', { name: 'redis', url: REDIS_URL });
const management = await brokerGate('testkit live management', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

describe.skipIf(rabbit === 'skip')('live rabbitmq', () => {
  it('accepts an AMQP 0-9-1 protocol header', async () => {
    const { hostname, port } = new URL(AMQP_URL);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port || 5672) }, () => {
        socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
      });
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data);
      });
      socket.once('error', reject);
    });
    // A connection.start method frame (type 1) means a real AMQP 0-9-1 broker answered.
    expect(reply[0]).toBe(1);
  });
});

describe.skipIf(redis === 'skip')('live redis', () => {
  it('answers PING', async () => {
    const { hostname, port } = new URL(REDIS_URL);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port || 6379) }, () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString('latin1'));
      });
      socket.once('error', reject);
    });
    // An ACL-protected server answers -NOAUTH, which still proves it is Redis.
    expect(reply).toMatch(/^(\+PONG|-NOAUTH)/);
  });
});

describe.skipIf(management === 'skip')('live rabbitmq management', () => {
  it('serves /api/overview', async () => {
    const url = new URL('/api/overview', RABBITMQ_MANAGEMENT_URL);
    const auth = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString(
      'base64',
    );
    url.username = '';
    url.password = '';
    const response = await fetch(url, { headers: { authorization: `Basic ${auth}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toHaveProperty('rabbitmq_version');
  });
});

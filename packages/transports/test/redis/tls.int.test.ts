/**
 * `rediss://` against a real TLS Redis: the test makes a throwaway CA and server certificate with
 * openssl, starts `redis-server` with only a TLS port, and connects with the CA in `transportOptions`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, ConnectionError, Queue } from '@wakame/core';
import { brokerGate, REDIS_URL, waitFor } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isListening } from './ports.js';

const gate = await brokerGate('redis tls', { name: 'redis', url: REDIS_URL });

/** A CA and a server certificate for 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=wakame-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: dir });
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  );
}

describe.skipIf(gate === 'skip')('redis over TLS', () => {
  let server: ChildProcess | undefined;
  let port = 0;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wakame-tls-'));
    makeCertificates(dir);
    port = await freePort();
    server = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--tls-cert-file',
        join(dir, 'server.crt'),
        '--tls-key-file',
        join(dir, 'server.key'),
        '--tls-ca-cert-file',
        join(dir, 'ca.crt'),
        '--tls-auth-clients',
        'no',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    );
    await waitFor(() => isListening(port), {
      timeoutMs: 10_000,
      what: 'the TLS redis to listen',
    });
  }, 30_000);

  afterAll(() => {
    server?.kill('SIGTERM');
  });

  it('publishes and consumes over rediss:// with the CA given in transportOptions', async () => {
    const conn = await Connection.open(`rediss://127.0.0.1:${port}/0`, {
      transportOptions: { ca: readFileSync(join(dir, 'ca.crt')) },
    });
    try {
      const queue = new Queue('over-tls');
      await conn.declare(queue);
      await conn.producer({ routingKey: 'over-tls' }).publish({ secure: true });
      const message = await queue.attach(conn).get();
      expect(message?.payload).toEqual({ secure: true });
      await message?.ack();
    } finally {
      await conn.close();
    }
  });

  it('refuses a server certificate it cannot verify with ConnectionError', async () => {
    await expect(Connection.open(`rediss://127.0.0.1:${port}/0`, { connectTimeoutMs: 3_000 })).rejects.toBeInstanceOf(
      ConnectionError,
    );
  });
});

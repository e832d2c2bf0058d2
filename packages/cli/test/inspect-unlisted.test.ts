/**
 * `wakame inspect` on a broker that cannot be listed (RabbitMQ without a reachable management API, simulated here
 * on the memory broker): a failure with its own code, not a message and exit 0. The real RabbitMQ case is in
 * cli-process.int.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { Connection } from '@wakame/core';
import { VirtualAdmin } from '@wakame/core/spi';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CommandContext } from '../src/context.js';
import { execute } from '../src/run.js';
import { capture } from './capture.js';

describe('wakame inspect when the broker cannot be listed', () => {
  let url: string;
  let keeper: Connection;
  beforeEach(async () => {
    url = `memory://${randomUUID()}`;
    keeper = await Connection.open(url);
    vi.spyOn(VirtualAdmin.prototype, 'inspect').mockResolvedValue({
      exchanges: [],
      queues: [],
      bindings: [],
      complete: false,
    });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await keeper.close();
  });

  async function wakame(argv: string[], overrides: Partial<CommandContext> = {}) {
    const c = capture(overrides);
    return { code: await execute(c.ctx, argv), ...c };
  }

  it('exits 1 with the reason and a hint on stderr', async () => {
    const r = await wakame(['inspect', '--url', url]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual([
      `error [ERR_LISTING_UNAVAILABLE]: cannot list the queues of ${url}: the broker offers no listing (for RabbitMQ, the management API)`,
      expect.stringMatching(/^hint: enable the rabbitmq_management plugin, or pass --management-url/),
    ]);
  });

  it('is one ok: false document with --json', async () => {
    const r = await wakame(['inspect', '--url', url, '--json']);
    expect(r.code).toBe(1);
    expect(r.json).toEqual([
      {
        ok: false,
        error: {
          code: 'ERR_LISTING_UNAVAILABLE',
          message: expect.stringContaining('cannot list the queues'),
          hint: expect.stringContaining('--management-url'),
        },
      },
    ]);
  });

  it('keeps redrawing with --watch, reports the failure each round, and exits 1', async () => {
    const stop = new AbortController();
    let rounds = 0;
    const c = capture({ jsonMode: true, signal: stop.signal });
    const json = (value: unknown): void => {
      c.json.push(value);
      if (++rounds === 3) stop.abort();
    };
    const code = await execute({ ...c.ctx, json }, ['inspect', '--url', url, '--watch', '0.1']);
    expect(code).toBe(1);
    expect(c.json).toHaveLength(3);
    for (const round of c.json) expect(round).toMatchObject({ ok: false, error: { code: 'ERR_LISTING_UNAVAILABLE' } });

    const text = capture({ signal: AbortSignal.abort() });
    expect(await execute(text.ctx, ['inspect', '--url', url, '--watch', '0.1'])).toBe(1);
    expect(text.out).toContain(
      `error [ERR_LISTING_UNAVAILABLE]: cannot list the queues of ${url}: the broker offers no listing (for RabbitMQ, the management API)`,
    );
    expect(text.err).toEqual([]);
  });

  it('exits 0 again once the listing works', async () => {
    vi.restoreAllMocks();
    expect((await wakame(['inspect', '--url', url])).code).toBe(0);
  });
});

import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Queue } from '@wakame/core';
import { describe, expect, it } from 'vitest';

describe('file store', () => {
  it('moves a corrupt or foreign file aside and keeps delivering the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wakame-file-'));
    const c = await Connection.open(`file://${dir}`);
    try {
      const q = new Queue('q');
      await c.declare(q);
      // Sorts first: a file nobody wrote through Wakame, under a batch file's name.
      const bucket = join(dir, 'queues', 'q', 'batches', '000-00000000000');
      mkdirSync(bucket);
      writeFileSync(join(bucket, '000-00000000000000-0000001-0000000001.000000.000001'), 'not a message at all');
      await c.producer().publish({ ok: true }, { routingKey: 'q' });
      const m = await q.attach(c).get();
      expect(m?.payload).toEqual({ ok: true });
      await m?.ack();
      expect(readdirSync(join(dir, 'corrupt'))).toHaveLength(1);
    } finally {
      await c.close();
    }
  });

  it('keeps messages and topology across reopening (another process would see the same)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wakame-file-'));
    const first = await Connection.open(`file://${dir}`);
    await first.declare(new Queue('kept', { maxPriority: 5 }));
    await first.producer().publish({ n: 1 }, { routingKey: 'kept', priority: 1 });
    await first.producer().publish({ n: 2 }, { routingKey: 'kept', priority: 5 });
    await first.close();
    const second = await Connection.open(`file://${dir}`);
    try {
      const q = new Queue('kept', { maxPriority: 5 }).attach(second);
      const a = await q.get();
      const b = await q.get();
      expect([a?.payload, b?.payload]).toEqual([{ n: 2 }, { n: 1 }]);
      await a?.ack();
      await b?.ack();
      expect(existsSync(join(dir, 'topology.json'))).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('refuses a nonsensical lease option with a typed error', async () => {
    await expect(
      Connection.open(`file://${mkdtempSync(join(tmpdir(), 'wakame-file-'))}?lease=5`),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { receiveBoundSuite } from './scenario.js';

// A directory per test: the file store reads the header line and leaves a body over the bound unread.
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

receiveBoundSuite({
  name: 'file',
  url: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-receive-bound-'));
    dirs.push(dir);
    return `file://${dir}`;
  },
  withholds: true,
});

/**
 * The Redis transport's Lua scripts are files (`src/redis/lua/*.lua`, copied to `dist/redis/lua/` by the build;
 * the pack-and-install test checks the package ships them). Each is used, documented and read whole.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadLua } from '../../src/redis/lua.js';

const dir = fileURLToPath(new URL('../../src/redis/lua/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
const sources = ['scripts.ts', 'redis-store.ts', 'stacks.ts']
  .map((f) => readFileSync(fileURLToPath(new URL(`../../src/redis/${f}`, import.meta.url)), 'utf8'))
  .join('\n');

describe('redis Lua scripts', () => {
  it('are each loaded by name from the transport, and every name loaded is a file', () => {
    const loaded = [...sources.matchAll(/loadLua\('([^']+)'\)/g)].map((m) => `${m[1]}.lua`).sort();
    expect(loaded).toEqual([...files].sort());
  });

  it.each(files)('%s opens with a header naming its KEYS and ARGV, and loads as written', (file) => {
    const text = loadLua(file.slice(0, -'.lua'.length));
    expect(text).toBe(readFileSync(dir + file, 'utf8'));
    const header = /^--\[\[\n([\s\S]*?)\n\]\]\n/.exec(text)?.[1] ?? '';
    expect(header).toMatch(/KEYS\[1/);
    expect(header).toMatch(/Returns/);
  });

  it('names the missing file when one is absent', () => {
    expect(() => loadLua('no-such-script')).toThrow(/no-such-script\.lua/);
  });
});

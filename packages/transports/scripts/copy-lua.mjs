#!/usr/bin/env node
// Copies the Redis transport's Lua scripts (src/redis/lua/*.lua) next to the compiled modules (dist/redis/lua/),
// where src/redis/lua.ts reads them: tsc emits only JavaScript. Run by the root `pnpm build` after tsc, and by
// `prepack`. The copy is generated: edit src/redis/lua/, never dist/.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('../src/redis/lua/', import.meta.url));
const to = fileURLToPath(new URL('../dist/redis/lua/', import.meta.url));
mkdirSync(to, { recursive: true });
const scripts = readdirSync(from).filter((name) => name.endsWith('.lua'));
if (scripts.length === 0) throw new Error(`no .lua file in ${from}`);
for (const name of scripts) copyFileSync(from + name, to + name);

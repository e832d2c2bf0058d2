#!/usr/bin/env node
// Entry point of the published `wakame` executable: runs the compiled CLI. During development use `pnpm wakame`,
// which runs packages/cli/src/main.ts from source through tsx.
import { existsSync } from 'node:fs';

const main = new URL('./dist/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error(
    'wakame: the CLI is not built (dist/main.js is missing); run `pnpm build`, or `pnpm wakame` to run from source',
  );
  process.exit(1);
}
await import(main.href);

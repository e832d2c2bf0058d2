#!/usr/bin/env node
// Copies what the CLI reads at run time from elsewhere in the repository into the package (`assets/`, listed in
// `files`), so an installed CLI never reads outside itself. Run by the root `pnpm build` after tsc, and by `prepack`.
// The copy is generated: edit examples/priority-tasks/topology.yaml, never assets/.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const copies = [
  // `wakame quickstart` (src/commands/quickstart.ts: quickstartTopology).
  ['../../../examples/priority-tasks/topology.yaml', '../assets/priority-tasks/topology.yaml'],
];

for (const [from, to] of copies) {
  const target = fileURLToPath(new URL(to, import.meta.url));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(fileURLToPath(new URL(from, import.meta.url)), target);
}

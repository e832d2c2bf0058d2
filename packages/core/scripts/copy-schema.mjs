#!/usr/bin/env node
// Copies the topology JSON Schema from the repository root (schemas/topology.schema.json, its only source) into the
// package (schema/, listed in `files` and exported as `@wakame/core/schema.json`), where the compiled
// src/topology/check/validate.ts reads it: an installed package never reads outside itself. Run by the root
// `pnpm build` after tsc, and by `prepack`. The copy is generated and git-ignored: edit schemas/, never schema/.
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

mkdirSync(fileURLToPath(new URL('../schema/', import.meta.url)), { recursive: true });
copyFileSync(
  fileURLToPath(new URL('../../../schemas/topology.schema.json', import.meta.url)),
  fileURLToPath(new URL('../schema/topology.schema.json', import.meta.url)),
);

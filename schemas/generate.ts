/**
 * `pnpm schema:generate`: the topology file format is written once, in `topology.schema.json` here, and
 * this script derives the rest from it:
 *
 * 1. the schema's queue-argument properties, from the queue-argument table
 *    (`packages/core/src/model/argument-table.ts`), written back into `topology.schema.json` (formatted);
 * 2. the TypeScript types of the format, `packages/core/src/topology/document.generated.ts`, from the
 *    schema (emitter: `typescript.ts`; type names and narrowings: `document-types.ts`).
 *
 * Tests fail while either is stale. The copy of the schema that `@wakame/core` ships
 * (`packages/core/schema/`) is not written here: the build makes it (`packages/core/scripts/copy-schema.mjs`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withQueueArguments } from '../packages/core/src/model/argument-schema.js';
import { DOCUMENT_TYPES } from './document-types.js';
import { toTypeScript } from './typescript.js';

const source = fileURLToPath(new URL('./topology.schema.json', import.meta.url));
const types = fileURLToPath(new URL('../packages/core/src/topology/document.generated.ts', import.meta.url));
const biome = fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url));

const schema = withQueueArguments(JSON.parse(readFileSync(source, 'utf8')));
writeFileSync(source, `${JSON.stringify(schema, null, 2)}\n`);
execFileSync(biome, ['format', '--write', source], { stdio: 'inherit' });
// The emitter's output is the file as is (biome leaves `*.generated.ts` alone), so the test can compare it.
writeFileSync(types, toTypeScript(schema, DOCUMENT_TYPES));

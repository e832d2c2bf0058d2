/**
 * `pnpm schema:generate`: writes the queue-argument properties of the topology schema from the
 * queue-argument table (`packages/core/src/model/argument-table.ts`) into `topology.schema.json`
 * here and into the copy `@wakame/core` ships, then formats both. Everything else in the schema is
 * edited by hand, here; the script copies it over.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withQueueArguments } from '../packages/core/src/model/argument-schema.js';

const source = fileURLToPath(new URL('./topology.schema.json', import.meta.url));
const packaged = fileURLToPath(new URL('../packages/core/schema/topology.schema.json', import.meta.url));
const biome = fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url));

const schema = withQueueArguments(JSON.parse(readFileSync(source, 'utf8')));
const text = `${JSON.stringify(schema, null, 2)}\n`;
for (const file of [source, packaged]) writeFileSync(file, text);
execFileSync(biome, ['format', '--write', source, packaged], { stdio: 'inherit' });

/**
 * The queue-argument part of the topology JSON Schema, derived from the queue-argument table:
 * `pnpm schema:generate` writes it into `schemas/topology.schema.json` (from which the TypeScript types
 * and the copy `@wakame/core` ships are then made), and a test fails while the committed schema differs
 * from what this gives.
 *
 * @module
 */
import { type ArgumentDefinition, QUEUE_ARGUMENT_ENTRIES } from './argument-table.js';

type Json = Record<string, unknown>;

/** The schema property of one typed queue argument. */
export function argumentSchema(def: ArgumentDefinition): Json {
  switch (def.kind) {
    case 'count':
      return {
        description: def.description,
        type: 'integer',
        minimum: def.min,
        ...(def.max === undefined ? {} : { maximum: def.max }),
      };
    case 'enum':
      return { description: def.description, enum: [...def.values] };
    case 'flag':
      return { description: def.description, type: 'boolean' };
    case 'target':
      return { $ref: '#/$defs/deadLetter', description: def.description };
  }
}

/**
 * `properties` with the table's arguments in its order, just before `arguments` (the raw ones);
 * properties of the table already there are replaced, the others kept in place.
 */
function spliced(properties: Json, argument: (key: string, def: ArgumentDefinition) => Json): Json {
  if (!('arguments' in properties)) throw new Error('the schema has no `arguments` property to put the others before');
  const table = new Map<string, ArgumentDefinition>(QUEUE_ARGUMENT_ENTRIES);
  const out: Json = {};
  for (const [name, value] of Object.entries(properties)) {
    if (table.has(name)) continue;
    if (name === 'arguments') for (const [key, def] of table) out[key] = argument(key, def);
    out[name] = value;
  }
  return out;
}

/**
 * The topology schema with its queue-argument properties (in `$defs.queue` and
 * `$defs.defaults.properties.queue`) generated from the table; everything else is kept as given.
 */
export function withQueueArguments(schema: Readonly<Json>): Json {
  const copy = structuredClone(schema) as {
    $defs: { queue: { properties: Json }; defaults: { properties: { queue: { properties: Json } } } };
  };
  const { queue, defaults } = copy.$defs;
  queue.properties = spliced(queue.properties, (_, def) => argumentSchema(def));
  defaults.properties.queue.properties = spliced(defaults.properties.queue.properties, (key, def) => ({
    $ref: `#/$defs/queue/properties/${key}`,
    description: def.defaultsDescription,
  }));
  return copy as unknown as Json;
}

/**
 * The topology file format (what users write in YAML or TypeScript). Its types are generated from the
 * JSON Schema, `schemas/topology.schema.json`, into `document.generated.ts` by `pnpm schema:generate`,
 * and re-exported here; this module adds only what a schema cannot hold: {@link defineTopology}, the
 * TypeScript entry point. Durations are milliseconds.
 *
 * @example
 * ```yaml
 * # yaml-language-server: $schema=../../schemas/topology.schema.json
 * version: 1
 * exchanges:
 *   - { name: tasks, type: direct }
 * queues:
 *   - name: hipri
 *     maxPriority: 10
 *     bindings: [{ exchange: tasks, routingKey: hipri }]
 * priorityClasses: { high: hipri, low: lopri }
 * tasks:
 *   - name: media.process
 *     payload: { type: object, required: [url], properties: { url: { type: string } } }
 *     priority: low
 * routes:
 *   - { match: 'media.*', exchange: tasks }
 * ```
 *
 * @module
 */
import type { TopologyDocument } from './document.generated.js';

export type * from './document.generated.js';

/** The TypeScript entry point: returns its argument, typed, so editors check topology files in TS. */
export function defineTopology<const T extends TopologyDocument>(topology: T): T {
  return topology;
}

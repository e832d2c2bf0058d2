/**
 * Wakame transports. Import a broker's subpath (`@wakame/transports/memory`, `/amqp`, `/redis`,
 * `/file`); connections find them by URL scheme without importing them.
 *
 * @module @wakame/transports
 */
export { memoryTransport } from './memory/index.js';

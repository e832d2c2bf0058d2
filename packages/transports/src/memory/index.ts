/**
 * Memory transport (virtual). URL: `memory://[name]`. Connections in one process that use the same
 * name share a broker. Fast and complete; nothing survives the process.
 *
 * | exchange types | priority | TTL | dead-letter | persistence | cross-process |
 * |----------------|----------|-----|-------------|-------------|---------------|
 * | direct, topic, fanout, headers | yes | yes | yes | no | no |
 *
 * It lives in `@wakame/core` (core's unit tests need it); this subpath re-exports it so every
 * transport has the same address.
 *
 * @module @wakame/transports/memory
 */

export { memoryTransport } from '@wakame/core';
export { MemoryStore, memoryBroker, resetMemoryBrokers } from '@wakame/core/spi';

/**
 * The one error hierarchy of Wakame. Every error has a stable {@link WakameError.code} (match on it,
 * never on messages) and a {@link WakameError.retriable} flag that retry policies read.
 *
 * Transport errors also say how far recovery must reach ({@link TransportError.recovery}):
 * `'connection'` (reconnect), `'channel'` (reopen the channel only) or `'none'` (retrying is pointless).
 *
 * @module
 */

// The hierarchy lives in errors/, one module per family; this module is the one place the rest of core (and the
// public index) imports errors from. Like every module under errors/, it imports nothing outside them.
export * from './errors/messaging.js';
export * from './errors/serialization.js';
export * from './errors/tasks.js';
export * from './errors/topology.js';
export * from './errors/transport.js';
export * from './errors/usage.js';
export * from './errors/wakame-error.js';

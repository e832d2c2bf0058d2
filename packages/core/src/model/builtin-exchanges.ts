/**
 * The exchanges a broker has before anything is declared: the virtual transport creates them, the
 * planner and the worker treat them as existing.
 *
 * @module
 */
import type { ExchangeType } from './specs.js';

/** The exchanges every RabbitMQ virtual host has, with their types. */
export const BUILTIN_EXCHANGES: ReadonlyMap<string, ExchangeType> = new Map<string, ExchangeType>([
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
  ['amq.topic', 'topic'],
]);

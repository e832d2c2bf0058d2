/**
 * The identity of a binding, shared by the stores that keep bindings and the planner that compares them.
 *
 * @module
 */
import { stableStringify } from '../internal/stable-stringify.js';
import type { BindingSpec } from './specs.js';

/** Identity of a binding: every field takes part, arguments included (as in RabbitMQ). */
export function bindingKey(b: BindingSpec): string {
  return `${b.destinationType}\u0000${b.source}\u0000${b.destination}\u0000${b.routingKey}\u0000${stableStringify(b.arguments)}`;
}

/**
 * The rules on values that must lie in a range: `routing-key-length` (error), `priority-range` and
 * `ttl-range` (errors out of range, warnings for values that are allowed but look like mistakes), and
 * `invalid-topic-key` (warning).
 *
 * @module
 */
import { MAX_TTL_MS, QUEUE_ARGUMENT_ENTRIES, QUEUE_ARGUMENTS } from '../../model/argument-table.js';
import { MAX_PRIORITY } from '../../model/queue-arguments.js';
import { reachableQueues } from './routing.js';
import { origin, pointer, type RuleContext, withDefaults } from './rule-context.js';

/** A message TTL above this is more likely a unit mistake (seconds written as ms × 1000) than intended. */
const ABSURD_TTL_MS = 30 * 24 * 3600 * 1000;
/** AMQP routing keys are short strings. */
const MAX_ROUTING_KEY_BYTES = 255;

/** `routing-key-length` (error) and `invalid-topic-key` (warning). */
export function routingKeys(ctx: RuleContext): void {
  const tooLong = (path: string, key: string | undefined): void => {
    const bytes = key === undefined ? 0 : Buffer.byteLength(key, 'utf8');
    if (bytes <= MAX_ROUTING_KEY_BYTES) return;
    ctx.error(
      'routing-key-length',
      path,
      `routing key of ${bytes} bytes exceeds the AMQP limit of ${MAX_ROUTING_KEY_BYTES}`,
    );
  };
  for (const site of ctx.bindings) {
    const key = site.doc.routingKey;
    tooLong(`${site.path}/routingKey`, key);
    if (ctx.exchangeTypes.get(site.spec.source) !== 'topic' || key === undefined) continue;
    const mixed = key.split('.').filter((w) => w.length > 1 && /[*#]/.test(w));
    if (mixed.length === 0) continue;
    const words = mixed.map((w) => `'${w}'`).join(', ');
    const message = `${words} mixes a wildcard with other characters; only a whole word '*' or '#' is a wildcard, so RabbitMQ matches it literally`;
    ctx.warn('invalid-topic-key', `${site.path}/routingKey`, message);
  }
  (ctx.doc.queues ?? []).forEach((q, i) => {
    tooLong(pointer('queues', i, 'deadLetter', 'routingKey'), q.deadLetter?.routingKey);
  });
  (ctx.doc.routes ?? []).forEach((r, i) => {
    tooLong(pointer('routes', i, 'routingKey'), r.routingKey);
  });
  (ctx.doc.tasks ?? []).forEach((t, i) => {
    tooLong(pointer('tasks', i, 'route', 'routingKey'), t.route?.routingKey);
    tooLong(pointer('tasks', i, 'deadLetter', 'routingKey'), t.deadLetter?.routingKey);
    // The task name is the routing key when its route sets none.
    if (ctx.tasks.get(t.name)?.route?.routingKey === t.name) {
      tooLong(pointer('tasks', i, 'name'), t.name);
    }
  });
}

function isWhole(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** A range bound for messages: 2^32-1 rather than its ten digits. */
function showBound(n: number): string {
  return n === MAX_TTL_MS ? '2^32-1' : String(n);
}

export function priorities(ctx: RuleContext): void {
  const { doc } = ctx;
  const { min, max } = QUEUE_ARGUMENTS.maxPriority;
  (doc.queues ?? []).forEach((q, i) => {
    const path = origin(q, pointer('queues', i), doc.defaults?.queue, 'maxPriority');
    const value = q.maxPriority ?? doc.defaults?.queue?.maxPriority;
    if (path === undefined || value === undefined || isWhole(value, min, max)) return;
    ctx.error('priority-range', path, `maxPriority must be a whole number from ${min} to ${max}, got ${value}`);
  });
  const maxOf = new Map(ctx.compiled.queues.map((q) => [q.name, q.maxPriority]));
  (doc.tasks ?? []).forEach((t, i) => {
    const path = origin(t, pointer('tasks', i), doc.defaults?.task, 'priority');
    const task = ctx.tasks.get(t.name);
    const value = task?.priority;
    if (path === undefined || value === undefined) return;
    if (!isWhole(value, 0, MAX_PRIORITY)) {
      const message = `a message priority must be a whole number from 0 to ${MAX_PRIORITY}, got ${value}`;
      ctx.error('priority-range', path, message);
      return;
    }
    if (task?.route === undefined) return;
    for (const q of reachableQueues(ctx.compiled, task.route.exchange, task.route.routingKey)) {
      const max = maxOf.get(q);
      if (max === undefined || value <= max) continue;
      const message = `task '${t.name}' has priority ${value}, above the maxPriority ${max} of queue '${q}' it routes to, which treats it as ${max}`;
      ctx.warn('priority-range', path, message);
    }
  });
}

/** The durations among the queue arguments (`messageTtl`, `expires`): the table's entries in ms. */
const DURATIONS = QUEUE_ARGUMENT_ENTRIES.flatMap(([key, def]) =>
  def.kind === 'count' && def.unit === 'ms' ? [{ key, min: def.min, max: def.max ?? Number.MAX_SAFE_INTEGER }] : [],
);

export function ttls(ctx: RuleContext): void {
  const check = (path: string, field: string, value: number, min: number, max: number): void => {
    if (!isWhole(value, min, max)) {
      const message = `${field} must be a whole number of ms from ${min} to ${showBound(max)}, got ${value}`;
      ctx.error('ttl-range', path, message);
    } else if (field === 'messageTtl' && value > ABSURD_TTL_MS) {
      ctx.warn('ttl-range', path, `messageTtl of ${value} ms is over 30 days, which looks absurd: durations are in ms`);
    } else if (field === 'expires' && value < 1000) {
      ctx.warn(
        'ttl-range',
        path,
        `expires of ${value} ms deletes the queue after under a second unused: durations are in ms`,
      );
    }
  };
  for (const [path, q] of withDefaults('queues', ctx.doc.queues, ctx.doc.defaults?.queue)) {
    for (const { key, min, max } of DURATIONS) {
      const value = q[key];
      if (typeof value === 'number') check(`${path}/${key}`, key, value, min, max);
    }
  }
}

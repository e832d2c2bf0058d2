import { describe, expect, it } from 'vitest';
import type { PolicySpec } from '../../src/model/broker-entities.js';
import { applicablePolicy, effectiveQueueArguments, policyTargetsQueue } from '../../src/model/policies.js';
import type { QueueSpec } from '../../src/transport/spi.js';

function queue(name: string, args: Partial<QueueSpec> = {}): QueueSpec {
  return { name, durable: true, exclusive: false, autoDelete: false, arguments: {}, ...args };
}

function policy(name: string, definition: Record<string, unknown>, extra: Partial<PolicySpec> = {}): PolicySpec {
  return { name, operator: false, pattern: '.*', applyTo: 'queues', priority: 0, definition, ...extra };
}

function operator(name: string, definition: Record<string, unknown>, extra: Partial<PolicySpec> = {}): PolicySpec {
  return policy(name, definition, { operator: true, ...extra });
}

describe('applicablePolicy', () => {
  it('picks the matching policy of highest priority', () => {
    const low = policy('low', {}, { priority: 1 });
    const high = policy('high', {}, { priority: 5 });
    const other = policy('other', {}, { priority: 9, pattern: '^other\\.' });
    expect(applicablePolicy(queue('orders'), [low, high, other])).toBe(high);
    expect(applicablePolicy(queue('other.q'), [low, high, other])).toBe(other);
  });

  it('breaks a priority tie by name, whatever the order given', () => {
    const a = policy('a', {});
    const b = policy('b', {});
    expect(applicablePolicy(queue('q'), [b, a])).toBe(a);
    expect(applicablePolicy(queue('q'), [a, b])).toBe(a);
  });

  it('matches the pattern as an unanchored regular expression', () => {
    expect(applicablePolicy(queue('app.orders'), [policy('p', {}, { pattern: 'orders' })])).toBeDefined();
    expect(applicablePolicy(queue('app.orders'), [policy('p', {}, { pattern: '^orders' })])).toBeUndefined();
  });

  it('honours apply-to: exchanges never, classic/quorum/stream by the queue type', () => {
    expect(applicablePolicy(queue('q'), [policy('p', {}, { applyTo: 'exchanges' })])).toBeUndefined();
    expect(policyTargetsQueue('all', 'stream')).toBe(true);
    expect(policyTargetsQueue('classic_queues', undefined)).toBe(true);
    expect(policyTargetsQueue('classic_queues', 'quorum')).toBe(false);
    expect(policyTargetsQueue('quorum_queues', 'quorum')).toBe(true);
    expect(policyTargetsQueue('streams', 'classic')).toBe(false);
  });
});

describe('effectiveQueueArguments', () => {
  it("gives the queue's own arguments when no policy applies", () => {
    const q = queue('q', { maxPriority: 5, messageTtl: 100, overflow: 'reject-publish' });
    expect(effectiveQueueArguments(q, [])).toEqual({ maxPriority: 5, messageTtl: 100, overflow: 'reject-publish' });
  });

  it('fills in what the queue does not set from the policy', () => {
    const p = policy('p', { 'message-ttl': 1000, 'max-length': 10, overflow: 'reject-publish-dlx' });
    expect(effectiveQueueArguments(queue('q'), [p])).toEqual({
      messageTtl: 1000,
      maxLength: 10,
      overflow: 'reject-publish-dlx',
    });
  });

  it('lets the lower of argument and policy win for the four limits', () => {
    const p = policy('p', { 'message-ttl': 1000, expires: 5000, 'max-length': 10, 'max-length-bytes': 100 });
    const lower = queue('q', { messageTtl: 500, expires: 6000, maxLength: 3, maxLengthBytes: 200 });
    expect(effectiveQueueArguments(lower, [p])).toMatchObject({
      messageTtl: 500,
      expires: 5000,
      maxLength: 3,
      maxLengthBytes: 100,
    });
  });

  it('lets the argument win over the policy for other keys', () => {
    const p = policy('p', { overflow: 'drop-head', 'dead-letter-exchange': 'policy-dlx' });
    const q = queue('q', { overflow: 'reject-publish', deadLetter: { exchange: 'own-dlx' } });
    expect(effectiveQueueArguments(q, [p])).toMatchObject({
      overflow: 'reject-publish',
      deadLetter: { exchange: 'own-dlx' },
    });
  });

  it("looks the dead-letter exchange and routing key up one by one (RabbitMQ's per-key lookup)", () => {
    const p = policy('p', { 'dead-letter-exchange': 'policy-dlx', 'dead-letter-routing-key': 'policy-rk' });
    expect(effectiveQueueArguments(queue('q'), [p]).deadLetter).toEqual({
      exchange: 'policy-dlx',
      routingKey: 'policy-rk',
    });
    expect(effectiveQueueArguments(queue('q', { deadLetter: { exchange: 'own' } }), [p]).deadLetter).toEqual({
      exchange: 'own',
      routingKey: 'policy-rk',
    });
    expect(
      effectiveQueueArguments(queue('q', { deadLetter: { exchange: 'own', routingKey: 'own-rk' } }), [p]).deadLetter,
    ).toEqual({ exchange: 'own', routingKey: 'own-rk' });
    // A routing key alone names nowhere to dead-letter to.
    expect(effectiveQueueArguments(queue('q'), [policy('rk', { 'dead-letter-routing-key': 'x' })])).toEqual({});
  });

  it('applies only the highest-priority user policy, never a merge of two', () => {
    const wide = policy('wide', { 'message-ttl': 100, 'max-length': 7 }, { priority: 1 });
    const narrow = policy('narrow', { 'max-length': 50 }, { priority: 2, pattern: '^q$' });
    expect(effectiveQueueArguments(queue('q'), [wide, narrow])).toEqual({ maxLength: 50 });
    expect(effectiveQueueArguments(queue('r'), [wide, narrow])).toEqual({ messageTtl: 100, maxLength: 7 });
  });

  it('caps argument and user policy alike with the operator policy (lowest limit wins)', () => {
    const user = policy('user', { 'max-length': 100, 'message-ttl': 10 });
    const cap = operator('cap', { 'max-length': 20, 'message-ttl': 60_000 });
    expect(effectiveQueueArguments(queue('q'), [user, cap])).toEqual({ maxLength: 20, messageTtl: 10 });
    expect(effectiveQueueArguments(queue('q', { maxLength: 1000 }), [cap])).toEqual({
      maxLength: 20,
      messageTtl: 60_000,
    });
    expect(effectiveQueueArguments(queue('q', { maxLength: 5 }), [cap])).toMatchObject({ maxLength: 5 });
  });

  it('applies the user policy and the operator policy side by side, each chosen by its own priority', () => {
    const user = policy('user', { overflow: 'reject-publish' }, { priority: 100 });
    const capLow = operator('cap-low', { 'max-length': 3 }, { priority: 1 });
    const capHigh = operator('cap-high', { 'max-length': 30 }, { priority: 2 });
    expect(effectiveQueueArguments(queue('q'), [user, capLow, capHigh])).toEqual({
      overflow: 'reject-publish',
      maxLength: 30,
    });
  });

  it('keeps arguments no policy can set, and ignores policy keys that are no typed argument', () => {
    const p = policy('p', { 'delivery-limit': 3, 'queue-mode': 'lazy' });
    const q = queue('q', { maxPriority: 9, singleActiveConsumer: true });
    expect(effectiveQueueArguments(q, [p])).toEqual({ maxPriority: 9, singleActiveConsumer: true });
  });

  it('ignores a policy value of the wrong type for a limit', () => {
    expect(effectiveQueueArguments(queue('q'), [policy('p', { 'message-ttl': '1000' })])).toEqual({});
  });
});

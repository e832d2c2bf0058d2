import { brokerGate, type FailoverScenario, RABBITMQ_CLUSTER_URLS, runFailoverScenario } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';
import { report } from './report.js';

const gate = await brokerGate('classic queue failover on the RabbitMQ cluster', {
  name: 'rabbitmq-cluster',
  url: RABBITMQ_CLUSTER_URLS[0] as string,
});

const PREFETCH = 200;

/**
 * 20,000 messages at 1,000/s with confirms through the 3-URL failover string, while the node the publisher is
 * connected to goes away: the publisher must reconnect to another node and no confirmed message may be lost. When
 * the classic queue lives on the broken node, it is unavailable until the node is back: publishes in between must
 * be refused (`mandatory`), never confirmed and dropped.
 */
const scenarios: readonly FailoverScenario[] = [
  { label: 'classic, queue on another node, stop_app', queueType: 'classic', target: 'other-node', fault: 'stop' },
  { label: 'classic, queue on another node, kill -9', queueType: 'classic', target: 'other-node', fault: 'kill' },
  { label: 'classic, queue on the stopped node, stop_app', queueType: 'classic', target: 'queue-node', fault: 'stop' },
  { label: 'classic, queue on the killed node, kill -9', queueType: 'classic', target: 'queue-node', fault: 'kill' },
];

describe.skipIf(gate === 'skip')('failover of a classic queue under load', () => {
  it.for(scenarios)('$label: no confirmed message lost', async (scenario, { annotate }) => {
    const result = await runFailoverScenario({ ...scenario, prefetch: PREFETCH });
    await report(result, annotate);
    expect.soft(result.unsettled, 'publishes that never settled').toBe(0);
    // Resent publishes and redelivered unacked messages: never more than what was in flight when the node went.
    expect.soft(result.duplicates).toBeLessThanOrEqual(result.inFlightAtFault + PREFETCH);
    if (scenario.target === 'other-node') expect.soft(result.rejected, 'publishes refused').toBeLessThan(100);
    expect(result.lost, 'confirmed but never delivered').toBe(0);
  });
});

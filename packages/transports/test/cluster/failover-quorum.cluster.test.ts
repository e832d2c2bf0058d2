import { brokerGate, type FailoverScenario, RABBITMQ_CLUSTER_URLS, runFailoverScenario } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';
import { report } from './report.js';

const gate = await brokerGate('quorum queue failover on the RabbitMQ cluster', {
  name: 'rabbitmq-cluster',
  url: RABBITMQ_CLUSTER_URLS[0] as string,
});

const PREFETCH = 200;

/**
 * 20,000 messages at 1,000/s with confirms through the 3-URL failover string, while the quorum queue's leader (the
 * node the publisher is connected to) goes away: the two other members elect a new leader, the publisher
 * reconnects, and publishing may be refused for at most 5 s.
 */
const scenarios: readonly FailoverScenario[] = [
  { label: 'quorum, leader stop_app', queueType: 'quorum', target: 'queue-node', fault: 'stop' },
  { label: 'quorum, leader kill -9', queueType: 'quorum', target: 'queue-node', fault: 'kill' },
];

describe.skipIf(gate === 'skip')('failover of a quorum queue leader under load', () => {
  it.for(scenarios)('$label: no confirmed message lost, refusals ≤ 5 s', async (scenario, { annotate }) => {
    const result = await runFailoverScenario({ ...scenario, prefetch: PREFETCH });
    await report(result, annotate);
    expect.soft(result.unsettled, 'publishes that never settled').toBe(0);
    expect.soft(result.duplicates).toBeLessThanOrEqual(result.inFlightAtFault + PREFETCH);
    expect.soft(result.refusalWindowMs, 'first to last refused publish (ms)').toBeLessThanOrEqual(5_000);
    expect(result.lost, 'confirmed but never delivered').toBe(0);
  });
});

import { randomUUID } from 'node:crypto';
import { TransportRegistry } from '@wakame/core';
import { memoryBroker, VirtualTransport } from '@wakame/core/spi';
import { requiredOnly, runTransportConformance } from '@wakame/testkit';

// The memory broker seen through the required store primitives only: polling, async settle, no byte counts.
const transports = new TransportRegistry([
  ['memory', async () => (url) => new VirtualTransport(requiredOnly(memoryBroker(url.path)), { pollIntervalMs: 5 })],
]);

runTransportConformance({
  name: 'memory (required primitives only)',
  url: () => `memory://${randomUUID()}`,
  connectionOptions: { transports },
});

import { randomUUID } from 'node:crypto';
import { TransportRegistry } from '@wakame/core';
import { memoryBroker, VirtualTransport, type VirtualStore } from '@wakame/core/spi';
import { runTransportConformance } from '@wakame/testkit';

function withoutImmediate(store: VirtualStore): VirtualStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'immediate') return undefined;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
const transports = new TransportRegistry([['memory', async () => (url) => new VirtualTransport(withoutImmediate(memoryBroker(url.path)))]]);
runTransportConformance({ name: 'memory-async', url: () => `memory://${randomUUID()}`, connectionOptions: { transports } });

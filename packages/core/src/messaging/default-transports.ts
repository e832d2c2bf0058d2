/**
 * The transport registry a connection falls back on. It lives here rather than beside the registry
 * in `transport/` because `memory://` is built from the virtual layer, which itself sits on the
 * transport SPI; the broker transports are only named, and loaded on first use, so `@wakame/core`
 * never depends on a broker client.
 *
 * @module
 */
import { DEFAULT_TRANSPORT_MODULES, moduleLoader, TransportRegistry } from '../transport/registry.js';
import type { TransportFactory } from '../transport/spi.js';
import { memoryBroker } from '../virtual/memory-store.js';
import { VirtualTransport } from '../virtual/virtual-transport.js';

/** `memory://name`: a {@link VirtualTransport} over the shared in-process broker called `name`. */
export const memoryTransport: TransportFactory = (url) =>
  new VirtualTransport(memoryBroker(url.path), { vhost: url.vhost });

/**
 * The registry connections use unless given another: `memory` is built in; `amqp(s)`, `redis(s)`
 * and `file` load `@wakame/transports/<name>` on first use, so core never imports a broker client.
 */
export const defaultTransports = new TransportRegistry([
  ['memory', async () => memoryTransport],
  ...DEFAULT_TRANSPORT_MODULES.map(
    ([scheme, moduleName, exportName]) => [scheme, moduleLoader(scheme, moduleName, exportName)] as const,
  ),
]);

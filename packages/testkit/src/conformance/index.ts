/**
 * The transport conformance suite: one call registers every behaviour a Wakame transport must share with
 * RabbitMQ's, gated only by the capabilities the transport declares (never by its name).
 *
 * @example
 * // packages/transports/test/conformance/memory.test.ts
 * runTransportConformance({ name: 'memory', url: () => `memory://${randomUUID()}` });
 *
 * @module
 */
import { describe } from 'vitest';
import { bodiesSuite } from './bodies.js';
import { concurrencySuite } from './concurrency.js';
import { connectionSuite } from './connection.js';
import { consumerApiSuite } from './consumer-api.js';
import { declareSuite } from './declare.js';
import { type ConformanceOptions, Harness } from './harness.js';
import { policiesSuite } from './policies.js';
import { prefetchSuite } from './prefetch.js';
import { prioritySuite } from './priority.js';
import { propertiesSuite } from './properties.js';
import { purgeDeleteSuite } from './purge-delete.js';
import { routingExchangesSuite } from './routing-exchanges.js';
import { routingFeaturesSuite } from './routing-features.js';
import { serializationSuite } from './serialization.js';
import { settleSuite } from './settle.js';
import { stacksSuite } from './stacks.js';
import { stopSuite } from './stop.js';
import { ttlDeadLetterSuite } from './ttl-dead-letter.js';

export type { ConformanceOptions } from './harness.js';

/**
 * Registers the conformance suite for one transport in the calling test file.
 *
 * A probe connection opened in `beforeAll` reads `connection.capabilities`; tests needing a capability the
 * transport does not declare are reported as skipped. `options.url()` is called once for the probe and once per
 * test (see {@link ConformanceOptions.url}); every test closes its connections and deletes what it declared.
 */
export function runTransportConformance(options: ConformanceOptions): void {
  describe.skipIf(options.skip === true)(`transport conformance: ${options.name}`, () => {
    const h = new Harness(options);
    h.install();
    declareSuite(h);
    routingExchangesSuite(h);
    routingFeaturesSuite(h);
    prioritySuite(h);
    settleSuite(h);
    prefetchSuite(h);
    ttlDeadLetterSuite(h);
    purgeDeleteSuite(h);
    propertiesSuite(h);
    serializationSuite(h);
    bodiesSuite(h);
    stopSuite(h);
    concurrencySuite(h);
    consumerApiSuite(h);
    connectionSuite(h);
    stacksSuite(h);
    policiesSuite(h);
  });
}

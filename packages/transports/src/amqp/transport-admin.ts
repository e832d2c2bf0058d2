/**
 * The admin side of the {@link AmqpTransport}: its {@link AmqpAdmin} with the ownership records, the
 * broker entities and the queue migrator, all of which (and the inspection of live state) go through
 * the management API of the node connected now.
 *
 * @module
 */
import type { BrokerUrl, ObservedTopology } from '@wakame/core/spi';
import type { ChannelModel } from 'amqplib';
import { AmqpAdmin } from './admin.js';
import type { AmqpOptions } from './amqp-options.js';
import { RabbitBrokerAdmin } from './broker-admin.js';
import { clusterNameOf } from './connect.js';
import { inspectViaManagement, managementEndpoint } from './management.js';
import { AmqpStacks } from './stacks.js';

/** What the admin uses of its transport. */
export interface AdminTransport {
  /** The live connection; waits through a recovery (bounded), throws when closed. */
  connection(): Promise<ChannelModel>;
  /** Exchanges known to exist (publishing to an unknown one is checked first). */
  readonly knownExchanges: Set<string>;
  /** The URL of the node connected now (failover moves it). */
  current(): BrokerUrl;
}

/** The admin of `transport`, whose options (`extra`) may name the management API. */
export function createTransportAdmin(transport: AdminTransport, extra: AmqpOptions): AmqpAdmin {
  // The management API followed: the one of the node connected now (after a failover, not the first URL's).
  const current = (): BrokerUrl => transport.current();
  return new AmqpAdmin({
    connection: () => transport.connection(),
    knownExchanges: transport.knownExchanges,
    inspect: () => inspect(transport, extra),
    stacks: new AmqpStacks({
      connection: () => transport.connection(),
      get url() {
        return current();
      },
      managementUrl: extra.managementUrl,
    }),
    broker: new RabbitBrokerAdmin({
      vhost: current().vhost,
      endpoint: () => managementEndpoint(current(), extra.managementUrl),
    }),
    migration: {
      connection: () => transport.connection(),
      vhost: current().vhost,
      // Read when a migration runs, so a malformed managementUrl fails that migration, not the connection.
      get management() {
        return managementEndpoint(current(), extra.managementUrl);
      },
    },
  });
}

async function inspect(transport: AdminTransport, extra: AmqpOptions): Promise<ObservedTopology> {
  const url = transport.current();
  const conn = await transport.connection();
  // The management API must be the broker's own: one found by guessing (port 15672 of the AMQP host)
  // may belong to another broker on that host, whose listing would turn every queue into a "create".
  const expected = clusterNameOf(conn);
  return inspectViaManagement(url, managementEndpoint(url, extra.managementUrl), expected);
}

/**
 * The {@link TopologyAdmin} a {@link Connection} offers: every operation connects first when needed and
 * then runs on the connected transport's admin, and those that change what exists make the connection
 * forget what it declared.
 *
 * @module
 */
import type { QueueMigration, TopologyAdmin, Transport } from '../transport/spi.js';

/** What the admin uses of its connection (the connection's class is not imported: it imports this module). */
export interface AdminConnection {
  /** Connects if needed and returns the transport. */
  ready(): Promise<Transport>;
  /** The transport when connected, without connecting. */
  readonly currentTransport: Transport | undefined;
}

/**
 * The admin of `connection`. `forgetDeclarations` is called after a queue is deleted or migrated: the connection's
 * cache of what it declared no longer matches the broker.
 */
export function connectionAdmin(connection: AdminConnection, forgetDeclarations: () => void): TopologyAdmin {
  return {
    declareExchange: async (spec, options) => (await connection.ready()).admin.declareExchange(spec, options),
    declareQueue: async (spec, options) => (await connection.ready()).admin.declareQueue(spec, options),
    bind: async (binding) => (await connection.ready()).admin.bind(binding),
    unbind: async (binding) => (await connection.ready()).admin.unbind(binding),
    deleteExchange: async (name, options) => (await connection.ready()).admin.deleteExchange(name, options),
    deleteQueue: async (name, options) => {
      const deleted = await (await connection.ready()).admin.deleteQueue(name, options);
      forgetDeclarations();
      return deleted;
    },
    purgeQueue: async (name) => (await connection.ready()).admin.purgeQueue(name),
    inspect: async () => (await connection.ready()).admin.inspect(),
    // The connected transport's records, broker entities and migrator; undefined before the connection is open.
    get stacks() {
      return connection.currentTransport?.admin.stacks;
    },
    get broker() {
      return connection.currentTransport?.admin.broker;
    },
    get migrateQueue() {
      const migrate = connection.currentTransport?.admin.migrateQueue?.bind(connection.currentTransport.admin);
      if (!migrate) return undefined;
      return async (migration: QueueMigration) => {
        try {
          return await migrate(migration);
        } finally {
          // The queue was declared again with other settings: what this connection declared is stale.
          forgetDeclarations();
        }
      };
    },
    // Batched probes and binds (one round trip per batch, not per entity), where the transport has them. Read from
    // the connected transport: before a connect there is none, and the planner then takes the one-by-one path.
    get probeEntities() {
      const admin = connection.currentTransport?.admin;
      return admin?.probeEntities?.bind(admin);
    },
    get bindMany() {
      const admin = connection.currentTransport?.admin;
      return admin?.bindMany?.bind(admin);
    },
  };
}

/**
 * Routing needs a compiled table, and compiling it on every publish would be wasteful; yet a store
 * shared between processes can change at any moment. The cache settles this with the store's
 * revision number: it is read on every publish, and the table is recompiled only when it moved, with
 * concurrent callers sharing one recompilation.
 *
 * @module
 */
import type { QueueSpec } from '../transport/spi.js';
import { queuesWithPolicies } from './policy-records.js';
import { RoutingTable } from './routing-table.js';
import type { TopologySnapshot, TopologyStore } from './store.js';

/** The compiled view of one topology revision. */
export interface CompiledTopology {
  readonly revision: number;
  readonly table: RoutingTable;
  /** Queue records as declared (what a redeclaration is compared with). */
  readonly queues: ReadonlyMap<string, QueueSpec>;
  /**
   * The same queues with the policies of the transport's vhost applied: the settings routing, TTL,
   * length limits and dead-lettering obey. The very `queues` map when no policy applies.
   */
  readonly effective: ReadonlyMap<string, QueueSpec>;
  /** Names whose records the store inferred (see {@link TopologySnapshot.inferred}). */
  readonly inferred: { readonly exchanges: ReadonlySet<string>; readonly queues: ReadonlySet<string> };
}

const NONE: ReadonlySet<string> = new Set();

/**
 * Keeps the routing table compiled until the store's revision moves. Publishing reads the revision
 * on every call, so a binding added by another client of a shared store is honoured at once.
 */
export class TopologyCache {
  #compiled: CompiledTopology | undefined;
  #loading: Promise<CompiledTopology> | undefined;

  constructor(
    private readonly topology: TopologyStore,
    /** The vhost whose policies apply (a virtual store has one: the URL's). */
    private readonly vhost = '/',
  ) {}

  /** The compiled topology, synchronously, when the store's revision is synchronous and unchanged. */
  fresh(): CompiledTopology | undefined {
    const rev = this.topology.revision();
    return typeof rev === 'number' && rev === this.#compiled?.revision ? this.#compiled : undefined;
  }

  /** The compiled topology of the current revision (recompiling when it moved). */
  async current(): Promise<CompiledTopology> {
    const rev = await this.topology.revision();
    if (this.#compiled && rev === this.#compiled.revision) return this.#compiled;
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(): Promise<CompiledTopology> {
    const snapshot = await this.topology.snapshot();
    const queues = new Map(snapshot.queues.map((q) => [q.name, q]));
    const compiled: CompiledTopology = {
      revision: snapshot.revision,
      table: new RoutingTable(snapshot),
      queues,
      // Policies are applied here, once per revision, so a publish pays nothing for them.
      effective: queuesWithPolicies(queues, snapshot.policies, this.vhost),
      inferred: {
        exchanges: snapshot.inferred ? new Set(snapshot.inferred.exchanges) : NONE,
        queues: snapshot.inferred ? new Set(snapshot.inferred.queues) : NONE,
      },
    };
    this.#compiled = compiled;
    return compiled;
  }
}

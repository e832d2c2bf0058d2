import type { Claimed, StoredMessage, StoreOutcome, VirtualStore } from '@wakame/core/spi';

/**
 * A view of `store` with only the required {@link VirtualStore} primitives: no synchronous fast path,
 * no change notifications (so consumers poll), no byte counts, no consumer registry. Running the
 * conformance suite over it proves the virtual transport's emulated paths, not only the accelerated ones.
 */
export function requiredOnly(store: VirtualStore): VirtualStore {
  return {
    kind: store.kind,
    features: store.features,
    topology: store.topology,
    open: (signal?: AbortSignal) => store.open(signal),
    close: () => store.close(),
    createQueue: (name: string) => store.createQueue(name),
    deleteQueue: (name: string) => store.deleteQueue(name),
    put: (queue: string, message: StoredMessage) => store.put(queue, message),
    get: (queue: string): Promise<Claimed | undefined> => store.get(queue),
    settle: (receipt: unknown, outcome: StoreOutcome) => store.settle(receipt, outcome),
    purge: (queue: string) => store.purge(queue),
    size: (queue: string) => store.size(queue),
    // Not a primitive the transport could emulate but the broker's stack records: kept, so they are tested too.
    stacks: store.stacks,
  };
}

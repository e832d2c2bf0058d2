/**
 * Stack records of the in-process memory broker: state documents and locks in maps. A lock lives
 * as long as its holder does not release it; the process is the broker, so a crash takes both.
 *
 * @module
 */
import type { LockHolder } from '../errors.js';
import type { StackLock, StackLockOptions, StackStateStore } from '../transport/spi.js';
import { acquireStackLock } from '../transport/stack-lock.js';

export class MemoryStacks implements StackStateStore {
  readonly #states = new Map<string, string>();
  readonly #locks = new Map<string, LockHolder>();

  describe(stack: string): string {
    return `memory broker record of stack '${stack}'`;
  }

  async read(stack: string): Promise<Readonly<Record<string, unknown>> | undefined> {
    const text = this.#states.get(stack);
    // Stored as text so a caller cannot change the record by mutating what it read.
    return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
  }

  async write(stack: string, state: Readonly<Record<string, unknown>>): Promise<void> {
    this.#states.set(stack, JSON.stringify(state));
  }

  async remove(stack: string): Promise<void> {
    this.#states.delete(stack);
  }

  lock(stack: string, options: StackLockOptions): Promise<StackLock> {
    return acquireStackLock(stack, options, async () => {
      const holder = this.#locks.get(stack);
      if (holder) return { heldBy: holder };
      this.#locks.set(stack, options.holder);
      const release = async (): Promise<void> => {
        if (this.#locks.get(stack)?.id === options.holder.id) this.#locks.delete(stack);
      };
      return { lock: { release } };
    });
  }
}

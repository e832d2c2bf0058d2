/**
 * What a {@link Connection} has declared on its broker, so that it declares each entity once. It lives
 * with the connection because it has to be forgotten whenever the broker connection is lost.
 *
 * @module
 */
import { stableStringify } from '../internal/stable-stringify.js';
import { Exchange } from '../model/exchange.js';
import { Queue } from '../model/queue.js';

/**
 * Keyed on the *whole* declaration (so two queues with one name but other bindings are both applied).
 * Queues that can vanish on their own (auto-delete, exclusive, expiring, server-named) and auto-delete
 * exchanges are never remembered: they are declared every time.
 */
export class DeclarationCache {
  readonly #declared = new Set<string>();
  readonly #keys = new WeakMap<object, string>();

  /** Runs `declare` unless `entity` was declared (and remembered) since the last {@link DeclarationCache.clear}. */
  async once(entity: Exchange | Queue, declare: () => Promise<unknown>): Promise<void> {
    const key = this.#keyOf(entity);
    if (key !== undefined && this.#declared.has(key)) return;
    await declare();
    if (key !== undefined) this.#declared.add(key);
  }

  /** Forgets every declaration (the broker may no longer have them). */
  clear(): void {
    this.#declared.clear();
  }

  #keyOf(entity: Exchange | Queue): string | undefined {
    if (
      entity instanceof Queue &&
      (entity.autoDelete || entity.exclusive || entity.expires !== undefined || entity.name === '')
    ) {
      return undefined;
    }
    if (entity instanceof Exchange && entity.autoDelete) return undefined;
    let key = this.#keys.get(entity);
    if (key === undefined) {
      key = (entity instanceof Exchange ? 'E' : 'Q') + stableStringify(entity.toJSON());
      this.#keys.set(entity, key);
    }
    return key;
  }
}

/**
 * Where `apply --migrate` keeps each queue migration's journal: in the stack's state record on the
 * broker, under `migrations.<queue>`, so an apply that was killed part-way is seen by the next plan
 * (as `» … resumes`) and continued by the next apply, from any machine that reaches the broker.
 * Writes happen under the stack's apply lock, so read-modify-write is safe.
 *
 * @module
 */
import type { MigrationJournal, StackStateStore } from '../../transport/spi.js';
import { parseStackState, type StackState } from '../plan/ownership.js';

/** The journal of `queue`'s migration in `stack`'s state record. */
export function stackMigrationJournal(stacks: StackStateStore, stack: string, queue: string): MigrationJournal {
  const update = async (
    change: (migrations: Record<string, Readonly<Record<string, unknown>>>) => void,
  ): Promise<void> => {
    const state: StackState = parseStackState(stack, await stacks.read(stack));
    const migrations = { ...(state.migrations ?? {}) };
    change(migrations);
    const { migrations: _previous, ...rest } = state;
    const next = Object.keys(migrations).length > 0 ? { ...rest, migrations } : rest;
    await stacks.write(stack, next as unknown as Record<string, unknown>);
  };
  return {
    async read() {
      return parseStackState(stack, await stacks.read(stack)).migrations?.[queue];
    },
    write: (journal) =>
      update((migrations) => {
        migrations[queue] = journal;
      }),
    clear: () =>
      update((migrations) => {
        delete migrations[queue];
      }),
  };
}

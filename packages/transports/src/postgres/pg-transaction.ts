/**
 * The application's own transaction, as a publish is given it (`{ transaction: client }`): a `pg`
 * client on which the application ran `BEGIN`. The handle is checked by its shape rather than by
 * `instanceof` alone, since the application may load another copy of `pg` than this package does.
 *
 * @module
 */
import { InvalidArgumentError, InvalidOperationError } from '@wakame/core/spi';
import pg from 'pg';
import { describeHandle } from '../internal/sql/errors.js';

const EXPECTED = 'a pg.Client or pg.PoolClient (from pool.connect()) after BEGIN';

/**
 * `handle` as a `pg` client in an open transaction.
 * @throws {@link InvalidArgumentError} when it is no `pg` client (a pool's statements each take any
 *   free client, so they could never be part of the caller's transaction)
 * @throws {@link InvalidOperationError} when the client is in no transaction, or in a failed one
 */
export function pgTransactionClient(handle: unknown): pg.ClientBase {
  if (handle instanceof pg.Pool || isPoolLike(handle)) {
    throw new InvalidArgumentError(
      `transaction must be ${EXPECTED}, got a pg.Pool: take a client with pool.connect(), run BEGIN on it, and pass the client`,
    );
  }
  if (!(handle instanceof pg.Client) && !isClientLike(handle)) {
    throw new InvalidArgumentError(`transaction must be ${EXPECTED}, got ${describeHandle(handle)}`);
  }
  const client = handle as pg.ClientBase & { getTransactionStatus?: () => string | null };
  // pg ≥ 8.12 reports the status of the last ReadyForQuery: 'T' in a transaction, 'E' in a failed one, 'I' idle.
  const status = typeof client.getTransactionStatus === 'function' ? client.getTransactionStatus() : 'T';
  if (status === 'E') {
    throw new InvalidOperationError(
      'the transaction given to publish has failed (a statement in it raised): roll it back',
    );
  }
  if (status !== 'T') {
    // Written outside a transaction, the message would be committed at once, whatever the caller does next.
    throw new InvalidOperationError(
      `the client given as transaction is ${status === 'I' ? 'in no transaction' : 'not connected'}: await client.query('BEGIN') first`,
    );
  }
  return client;
}

function isPoolLike(handle: unknown): boolean {
  const h = handle as { connect?: unknown; totalCount?: unknown } | null | undefined;
  return typeof h?.connect === 'function' && typeof h.totalCount === 'number';
}

function isClientLike(handle: unknown): boolean {
  const h = handle as { query?: unknown; connectionParameters?: unknown } | null | undefined;
  return (
    typeof h?.query === 'function' && typeof h.connectionParameters === 'object' && h.connectionParameters !== null
  );
}

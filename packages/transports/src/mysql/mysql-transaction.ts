/**
 * The application's own transaction, as a publish is given it (`{ transaction: connection }`): a
 * `mysql2/promise` connection on which the application called `beginTransaction()` (a callback-style
 * `mysql2` connection is taken through its `promise()` wrapper). Checked by shape, since the
 * application may load another copy of `mysql2` than this package does.
 *
 * @module
 */
import { InvalidArgumentError, InvalidOperationError } from '@wakame/core/spi';
import type { PoolConnection } from 'mysql2/promise';
import { describeHandle } from '../internal/sql/errors.js';

const EXPECTED =
  'a mysql2/promise connection (from createConnection() or pool.getConnection()) after beginTransaction()';
/** The server's status flags (`SERVER_STATUS_IN_TRANS`, `SERVER_STATUS_AUTOCOMMIT`), which mysql2 keeps per connection. */
const IN_TRANSACTION = 1;
const AUTOCOMMIT = 2;

/** The part of mysql2's connection object read here. */
interface CoreConnection {
  readonly serverStatus: number;
  readonly config: object;
  promise?(): PoolConnection;
}

/**
 * `handle` as a promise connection in an open transaction.
 * @throws {@link InvalidArgumentError} when it is no `mysql2` connection (a pool's statements each take
 *   any free connection, so they could never be part of the caller's transaction)
 * @throws {@link InvalidOperationError} when autocommit is on and no transaction was begun
 */
export function mysqlTransactionConnection(handle: unknown): PoolConnection {
  const h = handle as { getConnection?: unknown; query?: unknown; connection?: unknown } | null | undefined;
  if (typeof h?.getConnection === 'function') {
    throw new InvalidArgumentError(
      `transaction must be ${EXPECTED}, got a pool: take a connection with pool.getConnection(), call beginTransaction() on it, and pass the connection`,
    );
  }
  let connection: PoolConnection;
  let core: CoreConnection;
  if (typeof h?.query === 'function' && isCore(h.connection)) {
    connection = h as unknown as PoolConnection;
    core = h.connection;
  } else if (isCore(h) && typeof h.promise === 'function') {
    connection = h.promise();
    core = h;
  } else {
    throw new InvalidArgumentError(`transaction must be ${EXPECTED}, got ${describeHandle(handle)}`);
  }
  // With autocommit off, the next statement opens a transaction by itself: only autocommit without one is refused.
  if ((core.serverStatus & IN_TRANSACTION) === 0 && (core.serverStatus & AUTOCOMMIT) !== 0) {
    throw new InvalidOperationError(
      'the connection given as transaction is in no transaction (the message would be committed at once): await connection.beginTransaction() first',
    );
  }
  return connection;
}

function isCore(value: unknown): value is CoreConnection {
  const c = value as Partial<CoreConnection> | null | undefined;
  return typeof c?.serverStatus === 'number' && typeof c.config === 'object' && c.config !== null;
}

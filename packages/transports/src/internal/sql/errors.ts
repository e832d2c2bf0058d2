/**
 * Driver failures as Wakame's typed errors, through each dialect's table of codes (kafkajs keeps
 * broker codes as data too). Messages are written here, never copied from the driver where the
 * driver's text may name the login (authentication failures); nothing here ever sees a password.
 *
 * @module
 */
import { AccessRefusedError, ConnectionError, TimeoutError, TransportError, WakameError } from '@wakame/core/spi';
import type { SqlErrorKind } from './dialect.js';

/** The error a driver failure becomes; Wakame errors pass through. */
export function sqlError(
  error: unknown,
  codes: Readonly<Record<string, SqlErrorKind>>,
  where: string,
): WakameError | unknown {
  if (error instanceof WakameError) return error;
  const e = error as { code?: unknown; errno?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const kind = (code && codes[code]) || (typeof e?.errno === 'number' ? codes[String(e.errno)] : undefined);
  switch (kind) {
    case 'connection':
      return new ConnectionError(`cannot reach ${where} (${code ?? 'connection failed'})`, { cause: error });
    case 'access':
      // The driver's message names the user; ours names only the database.
      return new AccessRefusedError(`${where} refused the login (wrong user or password, or no access)`);
    case 'missing-database':
      return new ConnectionError(`${where} does not exist: create the database first`);
    case 'timeout':
      return new TimeoutError(`${where} did not answer in time`, { cause: error });
    default:
      if (error instanceof Error) return new TransportError(`${where}: ${error.message}`, { cause: error });
      return error;
  }
}

/** `promise`, with its driver failure mapped by {@link sqlError}. */
export function guardedSql<T>(
  promise: Promise<T>,
  codes: Readonly<Record<string, SqlErrorKind>>,
  where: string,
): Promise<T> {
  return promise.catch((error: unknown) => {
    throw sqlError(error, codes, where);
  });
}

/** What an unexpected value passed as a driver handle is, for an error message (never its contents). */
export function describeHandle(handle: unknown): string {
  if (handle === null) return 'null';
  if (typeof handle !== 'object') return typeof handle;
  const name = (handle as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? `a ${name}` : 'a plain object';
}

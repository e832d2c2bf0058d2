/**
 * RabbitMQ's stored password hashes, computed and checked here so a declared password can be
 * compared with a listed user's hash without ever asking the broker (which would mean logging in).
 *
 * RabbitMQ stores `base64(salt ‖ H(salt ‖ utf8(password)))` with a random 4-byte salt, H named by the
 * user's `hashing_algorithm`: `rabbit_password_hashing_sha256` (the default since 3.6),
 * `rabbit_password_hashing_sha512` or `rabbit_password_hashing_md5` (users imported from before 3.6).
 * The integration tests check all three against the broker: a user PUT with a hash made here logs in
 * with the password.
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PasswordCheck, UserCredential } from '@wakame/core/spi';

/** RabbitMQ's hashing modules and the Node digest each one uses. */
export const RABBIT_HASHING_ALGORITHMS: Readonly<Record<string, 'sha256' | 'sha512' | 'md5'>> = {
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
  rabbit_password_hashing_md5: 'md5',
};

/** RabbitMQ's default hashing module. */
export const DEFAULT_HASHING_ALGORITHM = 'rabbit_password_hashing_sha256';

const SALT_BYTES = 4;

/**
 * The hash RabbitMQ would store for `password` (a fresh random salt unless one is given), e.g. for a
 * user declared with `credential: { kind: 'hash', … }` instead of a password in the topology file.
 *
 * @throws Error for an algorithm RabbitMQ does not ship (the name, never the password, is in it).
 */
export function rabbitPasswordHash(
  password: string,
  algorithm: string = DEFAULT_HASHING_ALGORITHM,
  salt: Buffer = randomBytes(SALT_BYTES),
): string {
  const digest = RABBIT_HASHING_ALGORITHMS[algorithm];
  if (digest === undefined) throw new Error(`unknown RabbitMQ password hashing algorithm '${algorithm}'`);
  if (salt.length !== SALT_BYTES) throw new Error(`a RabbitMQ password salt has ${SALT_BYTES} bytes`);
  return Buffer.concat([salt, hashWithSalt(digest, salt, password)]).toString('base64');
}

/**
 * Whether `password` is the one `stored` was made from: the salt is the first 4 bytes of the
 * decoded hash, and the rest is compared in constant time. An unknown algorithm, an empty hash (a
 * user without a password) or a hash of the wrong length never matches.
 */
export const rabbitPasswordMatches: PasswordCheck = (password: string, stored: UserCredential): boolean => {
  if (stored.kind === 'password') {
    // Both sides in the clear (not something the broker lists): compare digests, equal in length.
    const a = createHash('sha256').update(password, 'utf8').digest();
    const b = createHash('sha256').update(stored.password.reveal(), 'utf8').digest();
    return timingSafeEqual(a, b);
  }
  const digest = RABBIT_HASHING_ALGORITHMS[stored.algorithm];
  if (digest === undefined) return false;
  const decoded = Buffer.from(stored.hash, 'base64');
  const salt = decoded.subarray(0, SALT_BYTES);
  const expected = decoded.subarray(SALT_BYTES);
  const actual = hashWithSalt(digest, salt, password);
  // The lengths are public (they follow from the algorithm), so checking them first leaks nothing.
  return salt.length === SALT_BYTES && expected.length === actual.length && timingSafeEqual(expected, actual);
};

function hashWithSalt(digest: string, salt: Buffer, password: string): Buffer {
  return createHash(digest).update(salt).update(password, 'utf8').digest();
}

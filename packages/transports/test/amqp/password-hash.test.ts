/**
 * RabbitMQ's password hashes: `base64(salt ‖ H(salt ‖ utf8(password)))`. The expected values were
 * computed apart from this code (Python's hashlib, salt 0badcafe); the sha256 one of `guest` is the
 * hash a RabbitMQ 3.10.8 broker stored for guest/guest. broker-admin.int.test.ts checks all three
 * algorithms against the broker itself (a user PUT with a hash made here logs in).
 */
import { Sensitive, type UserCredential } from '@wakame/core/spi';
import { describe, expect, it } from 'vitest';
import { rabbitPasswordHash, rabbitPasswordMatches } from '../../src/amqp/password-hash.js';

const SALT = Buffer.from('0badcafe', 'hex');
const PASSWORD = 'correct horse ✓';
const VECTORS = {
  rabbit_password_hashing_sha256: 'C63K/qu6Qzesgdwbe4x7X23ghbUc3AsG883Q933+bOMshJYs',
  rabbit_password_hashing_sha512:
    'C63K/h17wLT//LfkeaA5hoXTbw+6iA/Ke5OL/2pajkaGigTNIJpMvzX+z//xoFpFkFG5/KrMEskWq9xY1WnbzPl4CJo=',
  rabbit_password_hashing_md5: 'C63K/qLBZa6xi6DcNk8lrZMmgXA=',
};

const stored = (hash: string, algorithm: string): UserCredential => ({ kind: 'hash', hash, algorithm });

describe('RabbitMQ password hashes', () => {
  describe.each(Object.entries(VECTORS))('%s', (algorithm, expected) => {
    it('hashes as RabbitMQ does (salt, then the UTF-8 password)', () => {
      expect(rabbitPasswordHash(PASSWORD, algorithm, SALT)).toBe(expected);
    });

    it('matches the password and nothing else', () => {
      expect(rabbitPasswordMatches(PASSWORD, stored(expected, algorithm))).toBe(true);
      expect(rabbitPasswordMatches('correct horse', stored(expected, algorithm))).toBe(false);
      expect(rabbitPasswordMatches('', stored(expected, algorithm))).toBe(false);
    });

    it('checks a hash made with a random salt', () => {
      const hash = rabbitPasswordHash('s3cret', algorithm);
      expect(rabbitPasswordMatches('s3cret', stored(hash, algorithm))).toBe(true);
      expect(rabbitPasswordMatches('s3creT', stored(hash, algorithm))).toBe(false);
    });
  });

  it("matches guest's hash as RabbitMQ 3.10.8 stored it", () => {
    const guest = stored('9ik44EKCKN2SP+zGWsqWUZgAlAw+sjRu3uloetybfLGzo+WW', 'rabbit_password_hashing_sha256');
    expect(rabbitPasswordMatches('guest', guest)).toBe(true);
    expect(rabbitPasswordMatches('Guest', guest)).toBe(false);
  });

  it('never matches an empty hash, a hash of another length, or an unknown algorithm', () => {
    const sha256 = VECTORS.rabbit_password_hashing_sha256;
    expect(rabbitPasswordMatches('', stored('', 'rabbit_password_hashing_sha256'))).toBe(false);
    expect(rabbitPasswordMatches(PASSWORD, stored(sha256, 'rabbit_password_hashing_sha512'))).toBe(false);
    expect(rabbitPasswordMatches(PASSWORD, stored(sha256.slice(0, 8), 'rabbit_password_hashing_sha256'))).toBe(false);
    expect(rabbitPasswordMatches(PASSWORD, stored(sha256, 'rabbit_password_hashing_bcrypt'))).toBe(false);
    expect(() => rabbitPasswordHash(PASSWORD, 'rabbit_password_hashing_bcrypt')).toThrow(/unknown .* 'rabbit_password/);
  });

  it('compares a declared password with a declared password', () => {
    const declared: UserCredential = { kind: 'password', password: new Sensitive('s3cret') };
    expect(rabbitPasswordMatches('s3cret', declared)).toBe(true);
    expect(rabbitPasswordMatches('s3cret!', declared)).toBe(false);
  });
});

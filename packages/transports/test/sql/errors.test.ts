import { Connection, ConnectionError } from '@wakame/core';
import { describe, expect, it } from 'vitest';

// Port 1 refuses at once on loopback: nothing listens there.
describe.each(['postgres', 'mysql'])('the %s transport when the database is unreachable', (scheme) => {
  it('fails to connect with a ConnectionError that names neither the password nor the user', async () => {
    const error = await Connection.open(`${scheme}://alice:s3cret-pw@127.0.0.1:1/app`, {
      connectTimeoutMs: 2_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    const text = `${(error as Error).message} ${String((error as Error).stack)}`;
    expect(text).not.toContain('s3cret-pw');
    expect(text).not.toContain('alice');
  });
});

describe.each(['postgres', 'mysql'])('the %s transport refuses options it would misread', (scheme) => {
  it.each([
    ['prefix=Wakame-', 'prefix'],
    ['sslmode=prefer', 'sslmode'],
    ['lease=10', 'lease'],
    ['pool_max=1', 'pool_max'],
  ])('?%s', async (query, option) => {
    await expect(Connection.open(`${scheme}://127.0.0.1:1/app?${query}`)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining(option) }),
    );
  });
});

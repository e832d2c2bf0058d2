import { describe, expect, it } from 'vitest';
import { retryDeadlocks } from '../../src/mysql/mysql-dialect.js';

/** An error as mysql2 reports an InnoDB deadlock victim. */
const deadlock = () =>
  Object.assign(new Error('Deadlock found when trying to get lock'), { code: 'ER_LOCK_DEADLOCK', errno: 1213 });

describe('MariaDB deadlock victims', () => {
  it('runs a statement or transaction InnoDB rolled back as a deadlock victim again', async () => {
    let calls = 0;
    const result = await retryDeadlocks(async () => {
      calls++;
      if (calls < 3) throw deadlock();
      return 'claimed';
    });
    expect({ result, calls }).toEqual({ result: 'claimed', calls: 3 });
  });

  it('gives up after five attempts, and never retries another error', async () => {
    let calls = 0;
    await expect(
      retryDeadlocks(async () => {
        calls++;
        throw deadlock();
      }),
    ).rejects.toMatchObject({ code: 'ER_LOCK_DEADLOCK' });
    expect(calls).toBe(5);

    calls = 0;
    const other = Object.assign(new Error('Duplicate entry'), { code: 'ER_DUP_ENTRY' });
    await expect(
      retryDeadlocks(async () => {
        calls++;
        throw other;
      }),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
  });
});

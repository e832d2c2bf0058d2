import { describe, expect, it } from 'vitest';
import { withinTimeLimits } from '../../src/celery/time-limits.js';
import { CeleryTimeLimitError, exceptionInfo } from '../../src/index.js';

describe('Celery time limits', () => {
  it('returns what the handler returns when no limit is hit', async () => {
    expect(await withinTimeLimits(() => 7, [null, null])).toBe(7);
    expect(await withinTimeLimits(async () => 8, [60, 30])).toBe(8);
  });

  it("aborts the handler's signal at the soft limit, with Celery's SoftTimeLimitExceeded as reason", async () => {
    const failure = await withinTimeLimits(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      [null, 0.01],
    ).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CeleryTimeLimitError);
    expect(exceptionInfo(failure)).toEqual({
      exc_type: 'SoftTimeLimitExceeded',
      exc_message: ['SoftTimeLimitExceeded(0.01)'],
      exc_module: 'celery.exceptions',
    });
  });

  it('fails at the hard limit even when the handler never settles', async () => {
    const failure = await withinTimeLimits(() => new Promise(() => undefined), [0.01, null]).catch((e: unknown) => e);
    expect((failure as CeleryTimeLimitError).name).toBe('TimeLimitExceeded');
    expect(exceptionInfo(failure).exc_module).toBe('billiard.exceptions');
  });
});

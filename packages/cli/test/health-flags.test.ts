/** `wakame worker --health-port/--health-host`: what the flags accept, checked before anything starts. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

const module = 'examples/health-and-metrics/worker.ts';

describe('wakame worker health flags', () => {
  it.each(['65536', '-1', 'http', '80.5'])('refuses --health-port %s as a usage error', async (port) => {
    const { ctx } = capture();
    const error = await runCli(ctx, ['worker', module, '--url', 'memory://x', '--health-port', port]).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ message: expect.stringContaining('--health-port takes an integer from 0 to 65535') });
  });

  it('refuses --health-host without --health-port', async () => {
    const { ctx } = capture();
    const error = await runCli(ctx, ['worker', module, '--url', 'memory://x', '--health-host', '0.0.0.0']).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('--health-port') });
  });
});

/** `wakame worker --health-port/--health-host` and `wakame ui --host`: what the flags accept, checked before anything starts. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { execute } from '../src/run.js';
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

  it.each(['', ' ', 'a b'])(
    'refuses --health-host %j as a usage error (exit 64), before anything starts',
    async (host) => {
      const c = capture({ jsonMode: true });
      const code = await execute(c.ctx, [
        'worker',
        module,
        '--url',
        'memory://x',
        '--health-port',
        '0',
        '--health-host',
        host,
      ]);
      expect(code).toBe(64);
      expect(c.json[0]).toMatchObject({
        ok: false,
        error: { code: 'ERR_USAGE', message: expect.stringContaining('--health-host takes an address to bind') },
      });
    },
  );

  it.each(['', ' '])('refuses wakame ui --host %j as a usage error (exit 64)', async (host) => {
    const c = capture({ jsonMode: true });
    expect(await execute(c.ctx, ['ui', '--url', 'memory://x', '--host', host])).toBe(64);
    expect(c.json[0]).toMatchObject({ error: { message: expect.stringContaining('--host takes an address to bind') } });
  });

  it('refuses --health-host without --health-port', async () => {
    const { ctx } = capture();
    const error = await runCli(ctx, ['worker', module, '--url', 'memory://x', '--health-host', '0.0.0.0']).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('--health-port') });
  });
});

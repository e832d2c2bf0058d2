import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('tracing without @opentelemetry/api installed', { timeout: 120_000 }, () => {
  it('publishes and consumes as usual, with tracing off and no header added', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--conditions=@wakame/source',
        '--require',
        fixture('hide-otel-api.cjs'),
        '--import',
        'tsx',
        fixture('without-otel-api.ts'),
      ],
      { cwd: fileURLToPath(new URL('../../../../', import.meta.url)), timeout: 100_000 },
    );
    expect(JSON.parse(stdout)).toEqual({ enabled: false, headers: { kept: 'yes' } });
  });
});

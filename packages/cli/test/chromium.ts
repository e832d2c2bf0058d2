/**
 * Headless Chromium for the dashboard's browser test, through playwright-core and Debian's `chromium` package
 * (CHROMIUM_PATH, else /usr/bin/chromium). Gated like a broker: missing, it fails the suite where brokers are
 * required (CI) and skips it with a notice elsewhere.
 */
import { existsSync } from 'node:fs';
import { brokersRequired } from '@wakame/testkit';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `'run'` when Chromium is there; else throws in CI, or prints a notice and returns `'skip'`. */
export function chromiumGate(suite: string, env: NodeJS.ProcessEnv = process.env): 'run' | 'skip' {
  if (existsSync(CHROMIUM_PATH)) return 'run';
  const why = `Chromium not found at ${CHROMIUM_PATH} (set CHROMIUM_PATH, or install Debian's chromium package)`;
  if (brokersRequired(env) || env.CHROMIUM_PATH !== undefined) throw new Error(`[wakame] ${suite}: ${why}`);
  process.stderr.write(`[wakame] skipping ${suite}: ${why}\n`);
  return 'skip';
}

/**
 * Runs the field report and prints it:
 *
 *   pnpm exec tsx --conditions=@wakame/source examples/kombu-field-report/src/main.ts [--url URL]
 *
 * `--url` defaults to $WAKAME_URL, else a fresh in-process `memory://` broker.
 */
import { parseArgs } from 'node:util';
import { runFieldReport } from './index.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, json: { type: 'boolean' } } });
const url = values.url ?? process.env.WAKAME_URL;
const report = await runFieldReport({
  ...(url === undefined ? {} : { url }),
  log: (line) => process.stdout.write(`${line}\n`),
});
if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);

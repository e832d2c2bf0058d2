/**
 * `wakame ui` end to end in headless Chromium: real processes (`wakame apply`, `wakame worker`, `wakame ui`,
 * `wakame send`) on the embedded file:// broker, and the page as a user sees it. The page shows hipri, midpri and
 * lopri with their depths (table and graph), a depth changes after `wakame send`, a task that fails lands in the
 * dead-letter queue, the worker's health follows the worker. Screenshots go to packages/cli/test/artifacts/ui/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@wakame/core';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliTransports } from '../src/transports.js';
import { CHROMIUM_PATH, chromiumGate } from './chromium.js';
import { type RunningUi, repo, runCli, startCli, startUi } from './ui-process.js';

const gate = chromiumGate('wakame ui in Chromium');
const topology = join(repo, 'examples/dashboard/topology.yaml');
const workerModule = join(repo, 'examples/dashboard/worker.ts');
export const ARTIFACTS = join(repo, 'packages/cli/test/artifacts/ui');
/** Page conditions may take a few refresh rounds on a busy machine. */
const PAGE_TIMEOUT_MS = 30_000;

/** Waits until the queue's row shows `ready` messages. */
async function waitForDepth(page: Page, queue: string, ready: number): Promise<void> {
  await page.waitForFunction(
    ([q, n]) => document.querySelector(`#queues tr[data-queue="${q}"] .depth`)?.textContent === String(n),
    [queue, ready] as const,
    { timeout: PAGE_TIMEOUT_MS },
  );
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

describe.skipIf(gate === 'skip')('wakame ui in headless Chromium', () => {
  const stops: (() => Promise<unknown>)[] = [];
  let dir = '';
  let url = '';
  let browser: Browser;
  let worker: RunningUi;
  let ui: RunningUi;
  let page: Page;
  const send = async (task: string, payload: unknown) => {
    const sent = await runCli(['send', task, JSON.stringify(payload), '--topology', topology, '--url', url]);
    expect(sent.code, sent.output).toBe(0);
  };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'wakame-ui-browser-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    url = `file://${join(dir, 'broker')}`;
    const applied = await runCli(['apply', topology, '--url', url, '--yes']);
    expect(applied.code, applied.output).toBe(0);
    // Messages the worker (consuming hipri only) leaves alone: 2 on midpri, 1 on lopri.
    const connection = await Connection.open(url, { transports: cliTransports });
    const producer = connection.producer({ exchange: 'tasks' });
    for (const routingKey of ['midpri', 'midpri', 'lopri']) await producer.publish({ waiting: true }, { routingKey });
    await connection.close();

    worker = await startCli(
      ['worker', workerModule, '--url', url, '--queues', 'hipri', '--health-port', '0', '--json'],
      'health',
    );
    stops.push(() => worker.stop());
    ui = await startUi([topology, '--url', url, '--worker', worker.url, '--allow-actions', '--interval', '0.5']);
    stops.push(() => ui.stop());
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true });
    stops.push(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(ui.url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: PAGE_TIMEOUT_MS });
  }, 120_000);

  afterAll(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  }, 60_000);

  it('shows hipri, midpri and lopri with their depths, in the table and on the graph', async () => {
    await waitForDepth(page, 'midpri', 2);
    await waitForDepth(page, 'lopri', 1);
    await waitForDepth(page, 'hipri', 0);
    const graphDepth = (queue: string) => page.locator(`[data-node="queue:${queue}"] .depth`).textContent();
    expect(await graphDepth('midpri')).toBe('2');
    expect(await graphDepth('lopri')).toBe('1');
    expect(await page.locator('[data-node="exchange:tasks"]').count()).toBe(1);
    expect(await page.locator('#mode').textContent()).toBe('actions enabled');
    await page.waitForFunction(() => document.querySelector('#workers .dot')?.classList.contains('ready'), null, {
      timeout: PAGE_TIMEOUT_MS,
    });
    expect(await page.locator('#plan').textContent()).toContain('No changes');
    await shoot(page, '1-loaded');
  }, 60_000);

  it('changes a depth after wakame send', async () => {
    await send('report.generate', { reportId: 'r-1' });
    await waitForDepth(page, 'lopri', 2);
    await page.waitForFunction(() => document.querySelector('[data-node="queue:lopri"] .depth')?.textContent === '2');
    await shoot(page, '2-after-send');
  }, 60_000);

  it('shows a task that failed in the dead-letter queue, and the worker going away', async () => {
    await send('user.notify', { userId: 'bad-1', text: 'hello' });
    await waitForDepth(page, 'failed', 1);
    expect(await page.locator('#dead-letters [data-dead-letter-queue="failed"] .depth').textContent()).toBe('1');
    expect(await page.locator('#queues tr[data-queue="failed"]').getAttribute('class')).toContain('dead-letter');
    expect(await worker.stop(), worker.output()).toBe(0);
    await page.waitForFunction(() => document.querySelector('#workers .dot')?.classList.contains('unreachable'), null, {
      timeout: PAGE_TIMEOUT_MS,
    });
    await shoot(page, '3-dead-letter');
  }, 60_000);

  it('purges a queue only after the confirmation', async () => {
    await page.click('#queues tr[data-queue="midpri"] [data-action="purge-midpri"]');
    await page.waitForSelector('#confirm[open]');
    expect(await page.locator('#confirm-text').textContent()).toContain("'midpri'");
    await shoot(page, '4-confirm-purge');
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm:not([open])', { state: 'attached' });
    // Declined: a later round still shows both messages.
    await page.waitForFunction(
      (at) => Number(document.querySelector('#live')?.getAttribute('data-at') ?? 0) > at,
      Date.now(),
      { timeout: PAGE_TIMEOUT_MS },
    );
    await waitForDepth(page, 'midpri', 2);
    await page.click('#queues tr[data-queue="midpri"] [data-action="purge-midpri"]');
    await page.click('#confirm-ok');
    await waitForDepth(page, 'midpri', 0);
    expect(await page.locator('#toast').textContent()).toBe('Purged 2 message(s) from midpri.');
  }, 60_000);
});

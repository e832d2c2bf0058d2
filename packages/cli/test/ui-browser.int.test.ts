/**
 * `wakame ui` end to end in headless Chromium: real processes (`wakame apply`, `wakame worker`, `wakame ui`,
 * `wakame send`) on the embedded file:// broker, and the page as a user sees it. The page shows hipri, midpri and
 * lopri with their depths (table and graph), a depth changes after `wakame send`, a task that fails lands in the
 * dead-letter queue, the worker's health follows the worker, a replay through the page moves the dead letter back to
 * the queue it died in, purge waits for its confirmation. Screenshots go to packages/cli/test/artifacts/ui/.
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

/** Polls the page (not a clock) until `read` gives `expected`. */
async function pageShows(read: () => Promise<string | null>, expected: string | RegExp, what: string): Promise<void> {
  const check = expect.poll(read, { timeout: PAGE_TIMEOUT_MS, interval: 100, message: what });
  await (typeof expected === 'string' ? check.toBe(expected) : check.toMatch(expected));
}

/** Waits until the queue's row shows `ready` messages. */
async function waitForDepth(page: Page, queue: string, ready: number): Promise<void> {
  const cell = page.locator(`#queues tr[data-queue="${queue}"] .depth`);
  await pageShows(() => cell.textContent(), String(ready), `${queue} shows ${ready}`);
}

/** Waits until the first worker card's dot says `state`. */
async function waitForWorker(page: Page, state: string): Promise<void> {
  const dot = page.locator('#workers .dot').first();
  await pageShows(() => dot.getAttribute('class'), new RegExp(`\\b${state}\\b`), `worker ${state}`);
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
    await waitForWorker(page, 'ready');
    expect(await page.locator('#plan').textContent()).toContain('No changes');
    await shoot(page, '1-loaded');
  }, 60_000);

  it('changes a depth after wakame send', async () => {
    await send('report.generate', { reportId: 'r-1' });
    await waitForDepth(page, 'lopri', 2);
    const onGraph = page.locator('[data-node="queue:lopri"] .depth');
    await pageShows(() => onGraph.textContent(), '2', 'lopri shows 2 on the graph');
    await shoot(page, '2-after-send');
  }, 60_000);

  it('shows a task that failed in the dead-letter queue, and the worker going away', async () => {
    await send('user.notify', { userId: 'bad-1', text: 'hello' });
    await waitForDepth(page, 'failed', 1);
    expect(await page.locator('#dead-letters [data-dead-letter-queue="failed"] .depth').textContent()).toBe('1');
    expect(await page.locator('#queues tr[data-queue="failed"]').getAttribute('class')).toContain('dead-letter');
    expect(await worker.stop(), worker.output()).toBe(0);
    await waitForWorker(page, 'unreachable');
    await shoot(page, '3-dead-letter');
  }, 60_000);

  it('lists the dead letter and replays it through the page, after the confirmation', async () => {
    await page.click('#dead-letters [data-action="list-failed"]');
    const listedRow = page.locator('#dead-letters .dead-letter-list tr[data-dead-letter-id]');
    await pageShows(async () => (await listedRow.count()).toString(), '1', 'one dead letter listed');
    expect(await listedRow.textContent()).toContain('user.notify');
    expect(await listedRow.textContent()).toContain('no such user: bad-1');
    // Looking changed nothing.
    await waitForDepth(page, 'failed', 1);

    await page.click('#dead-letters [data-action="replay-failed"]');
    await page.waitForSelector('#confirm[open]');
    expect(await page.locator('#confirm-text').textContent()).toContain("'failed'");
    await page.click('#confirm-ok');
    // The worker is stopped: the replayed task waits in the queue it died in.
    await waitForDepth(page, 'failed', 0);
    await waitForDepth(page, 'hipri', 1);
    expect(await page.locator('#toast').textContent()).toBe('Replayed 1 message(s) from failed.');
    await pageShows(async () => (await listedRow.count()).toString(), '0', 'the listing emptied');
    await shoot(page, '4-after-replay');

    // The broker agrees: the task is back on hipri, out of failed.
    const connection = await Connection.open(url, { transports: cliTransports });
    try {
      const count = async (name: string) =>
        (
          await connection.admin.declareQueue(
            { name, durable: true, exclusive: false, autoDelete: false, arguments: {} },
            { passive: true },
          )
        ).messageCount;
      expect(await count('hipri')).toBe(1);
      expect(await count('failed')).toBe(0);
    } finally {
      await connection.close();
    }
  }, 60_000);

  it('purges a queue only after the confirmation', async () => {
    await page.click('#queues tr[data-queue="midpri"] [data-action="purge-midpri"]');
    await page.waitForSelector('#confirm[open]');
    expect(await page.locator('#confirm-text').textContent()).toContain("'midpri'");
    await shoot(page, '5-confirm-purge');
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm:not([open])', { state: 'attached' });
    // Declined: a later round still shows both messages.
    const declinedAt = Date.now();
    await expect
      .poll(async () => Number(await page.locator('#live').getAttribute('data-at')), { timeout: PAGE_TIMEOUT_MS })
      .toBeGreaterThan(declinedAt);
    await waitForDepth(page, 'midpri', 2);
    await page.click('#queues tr[data-queue="midpri"] [data-action="purge-midpri"]');
    await page.click('#confirm-ok');
    await waitForDepth(page, 'midpri', 0);
    expect(await page.locator('#toast').textContent()).toBe('Purged 2 message(s) from midpri.');
  }, 60_000);
});

/**
 * The management credentials never reach the browser: `wakame ui` runs against RabbitMQ as a user of its own with
 * a random password, in a vhost of its own, with the password in both the AMQP URL and --management-url (and in a
 * --worker URL). Every answer the page could ask for — the page's files, the state, the plan, the event stream,
 * refusals and errors — is read, and none holds the password or the Basic credentials made of it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AMQP_URL,
  brokerGate,
  createVhost,
  deleteVhost,
  management,
  RABBITMQ_MANAGEMENT_URL,
  randomName,
} from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningUi, repo, runCli, startUi } from './ui-process.js';

// The management API makes the vhost and the user, and is what the dashboard lists the broker with.
const gate =
  (await brokerGate('wakame ui credentials', { name: 'rabbitmq', url: AMQP_URL })) === 'run'
    ? await brokerGate('wakame ui credentials', { name: 'rabbitmq-management', url: RABBITMQ_MANAGEMENT_URL })
    : 'skip';
const topology = `${repo}examples/dashboard/topology.yaml`;

/** Every answer the page could ask for, as text with status and headers: page files, state, plan, events, refusals. */
async function sweep(ui: RunningUi): Promise<string[]> {
  const answers: string[] = [];
  const get = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${ui.url}${path}`, init);
    const text = await response.text();
    answers.push(`${response.status} ${path}: ${[...response.headers].join(' ')} ${text}`);
    return text;
  };
  for (const path of ['/', '/app.js', '/graph.js', '/charts.js', '/actions.js', '/style.css', '/nothing']) {
    await get(path);
  }
  const state = JSON.parse(await get('/api/state')) as { settings: { token?: string } };
  await get('/api/plan?refresh=1');
  await get('/api/dead-letters?queue=failed');
  answers.push(await firstEvent(ui.url));
  const headers = { 'content-type': 'application/json', origin: ui.url, 'x-wakame-token': state.settings.token ?? '' };
  // A broker error echoed back: purging a queue that does not exist.
  await get('/api/actions/purge', { method: 'POST', headers, body: JSON.stringify({ queue: 'no-such-queue' }) });
  await get('/api/actions/purge', {
    method: 'POST',
    headers: { ...headers, origin: 'http://evil.example' },
    body: '{}',
  });
  return answers;
}

function expectNoSecret(answers: readonly string[], user: string, password: string): void {
  const basic = Buffer.from(`${user}:${password}`).toString('base64');
  expect(answers.length).toBeGreaterThan(10);
  for (const answer of answers) {
    expect(answer).not.toContain(password);
    expect(answer).not.toContain(basic);
  }
}

/** Reads the first `snapshot` event of the stream, then hangs up. */
async function firstEvent(url: string): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(`${url}/api/events`, { signal: controller.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  controller.abort();
  return text;
}

describe.skipIf(gate === 'skip')('wakame ui keeps the credentials on the server', () => {
  const vhost = randomName('wakame-ui-creds');
  const user = randomName('wakame-ui-user');
  // Letters only, long: it cannot occur in an answer by chance.
  const password = `pw${randomBytes(18).toString('hex')}`;
  let url = '';
  let managementUrl = '';

  beforeAll(async () => {
    await createVhost(vhost);
    // policymaker: apply and plan keep the stack's records in global parameters, which need it.
    await management('PUT', `users/${encodeURIComponent(user)}`, { password, tags: 'policymaker' });
    await management('PUT', `permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, {
      configure: '.*',
      write: '.*',
      read: '.*',
    });
    const amqp = new URL(AMQP_URL);
    url = `amqp://${user}:${password}@${amqp.host}/${encodeURIComponent(vhost)}`;
    const api = new URL(RABBITMQ_MANAGEMENT_URL);
    managementUrl = `${api.protocol}//${user}:${password}@${api.host}`;
    const applied = await runCli(['apply', topology, '--url', url, '--management-url', managementUrl, '--yes']);
    expect(applied.code, applied.output).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await deleteVhost(vhost);
    await management('DELETE', `users/${encodeURIComponent(user)}`);
  });

  it('in no answer: page, state, plan, events, refusals, errors', async () => {
    const worker = `http://${user}:${password}@127.0.0.1:9/`;
    const ui = await startUi([
      topology,
      '--url',
      url,
      '--management-url',
      managementUrl,
      '--worker',
      worker,
      '--allow-actions',
    ]);
    try {
      // It does talk to the broker as that user: the queues are there, the plan was made.
      const state = (await (await fetch(`${ui.url}/api/state`)).json()) as {
        snapshot: { queues: { name: string }[]; workers: { url: string; state: string }[] };
        plan: { plan: { lines: string[] } };
      };
      expect(state.snapshot.queues.map((q) => q.name).sort()).toEqual(['failed', 'hipri', 'lopri', 'midpri']);
      expect(state.plan.plan.lines.join('\n')).toContain('No changes');
      expect(state.snapshot.workers).toEqual([
        expect.objectContaining({ url: 'http://127.0.0.1:9', state: 'unreachable' }),
      ]);
      expectNoSecret(await sweep(ui), user, password);
      expect(ui.output()).not.toContain(password);
    } finally {
      expect(await ui.stop(), ui.output()).toBe(0);
    }
  }, 90_000);
});

describe('wakame ui keeps --management-url and --worker credentials on the server (file://)', () => {
  it('in no answer, whatever the broker', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-ui-creds-'));
    const password = `pw${randomBytes(18).toString('hex')}`;
    try {
      const url = `file://${join(dir, 'broker')}`;
      const applied = await runCli(['apply', topology, '--url', url, '--yes']);
      expect(applied.code, applied.output).toBe(0);
      const ui = await startUi([
        topology,
        '--url',
        url,
        '--management-url',
        `http://admin:${password}@127.0.0.1:9`,
        '--worker',
        `http://probe:${password}@127.0.0.1:9/`,
        '--allow-actions',
      ]);
      try {
        expectNoSecret(await sweep(ui), 'probe', password);
        expect(ui.output()).not.toContain(password);
      } finally {
        expect(await ui.stop(), ui.output()).toBe(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

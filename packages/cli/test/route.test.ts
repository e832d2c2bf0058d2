import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import type { RouteReport } from '../src/commands/route.js';
import { ExitError } from '../src/errors.js';
import { capture } from './capture.js';

const TOPOLOGY = `version: 1
exchanges:
  - { name: tasks, type: topic, alternateExchange: unrouted }
  - { name: media, type: headers, internal: true }
  - { name: unrouted, type: fanout }
  - { name: dlx, type: direct }
queues:
  - name: videos
    deadLetter: { exchange: dlx, routingKey: dead }
    bindings: [{ exchange: media, headers: { format: mp4, pages: 500 } }]
  - name: archive
    bindings: [{ exchange: tasks, routingKey: "#.encode" }]
  - name: lost
    bindings: [{ exchange: unrouted }]
  - name: dead
    bindings: [{ exchange: dlx, routingKey: dead }]
bindings:
  - { exchange: tasks, routingKey: "video.*", destination: media, destinationType: exchange }
`;

let file: string;

beforeAll(async () => {
  file = join(await mkdtemp(join(tmpdir(), 'wakame-route-')), 'topology.yaml');
  await writeFile(file, TOPOLOGY);
});

async function failure(argv: string[], json = false): Promise<{ error: ExitError; json: unknown[] }> {
  const c = capture({ jsonMode: json });
  try {
    await runCli(c.ctx, argv);
  } catch (error) {
    if (error instanceof ExitError) return { error, json: c.json };
    throw error;
  }
  throw new Error(`expected wakame ${argv.join(' ')} to fail`);
}

describe('wakame route', () => {
  it('prints the path through exchange hops and headers to each queue and its dead-letter target', async () => {
    const c = capture();
    const argv = ['route', 'tasks', 'video.encode', '--topology', file];
    await runCli(c.ctx, [...argv, '--header', 'format=mp4', '--header', 'pages:=500']);
    expect(c.out).toEqual([
      `A message to 'tasks' with routing key 'video.encode' and headers {format="mp4", pages=500}, in ${file}:`,
      "  exchange 'tasks' (topic)",
      "    key 'video.*' → exchange 'media'",
      "    key '#.encode' → queue 'archive'",
      "  exchange 'media' (headers) ← bound from 'tasks'",
      '    headers {format="mp4", pages=500, x-match="all"} → queue \'videos\'',
      'Reaches 2 queues:',
      '  archive',
      "  videos  (dead letters → 'dlx' with key 'dead' → dead)",
    ]);
  });

  it('matches header values by type: a string 500 is not the number 500', async () => {
    const c = capture({ jsonMode: true });
    await runCli(c.ctx, [
      'route',
      'tasks',
      'video.x',
      '--topology',
      file,
      '--header',
      'format=mp4',
      '--header',
      'pages=500',
    ]);
    expect((c.json[0] as RouteReport).unroutable).toBe(true);
  });

  it('shows the alternate exchange taking what no binding matched', async () => {
    const c = capture();
    await runCli(c.ctx, ['route', 'tasks', 'audio.play', '--topology', file]);
    expect(c.out).toContain("    no binding matches → alternate exchange 'unrouted'");
    expect(c.out).toContain("  exchange 'unrouted' (fanout) ← alternate exchange of 'tasks'");
    expect(c.out.at(-1)).toBe('  lost');
  });

  it('prints a report with --json', async () => {
    const c = capture({ jsonMode: true });
    await runCli(c.ctx, ['route', 'tasks', 'video.encode', '--topology', file, '--header', 'format=mp4']);
    const report = c.json[0] as RouteReport;
    expect(report).toMatchObject({ ok: true, source: { topology: file }, exchange: 'tasks', unroutable: false });
    expect(report.hops.map((h) => [h.exchange, h.reason.kind])).toEqual([
      ['tasks', 'publish'],
      ['media', 'binding'],
    ]);
    expect(report.queues).toEqual([{ name: 'archive' }]);
  });

  it('fails with a clear error, not a stack trace, for a missing exchange', async () => {
    const { error } = await failure(['route', 'task', 'x', '--topology', file]);
    expect(error.exitCode).toBe(1);
    expect(error.code).toBe('ERR_NOT_FOUND');
    expect(error.message).toBe(`exchange 'task' does not exist in ${file}`);
    expect(error.hint).toBe('known exchanges: dlx, media, tasks, unrouted');
  });

  it('refuses a malformed header and --topology with --url', async () => {
    await expect(
      runCli(capture().ctx, ['route', 'tasks', 'x', '--topology', file, '--header', 'oops']),
    ).rejects.toThrow(/--header must look like key=value/);
    const { error } = await failure(['route', 'tasks', 'x', '--topology', file, '--url', 'memory://x']);
    expect(error.exitCode).toBe(64);
  });

  it('routes through the live broker listing', async () => {
    const url = `memory://${randomUUID()}`;
    await runCli(capture().ctx, ['apply', file, '--url', url, '--yes']);
    const c = capture({ jsonMode: true });
    await runCli(c.ctx, [
      'route',
      'tasks',
      'video.encode',
      '--url',
      url,
      '--header',
      'format=mp4',
      '--header',
      'pages:=500',
    ]);
    const report = c.json[0] as RouteReport;
    expect(report.source).toEqual({ url });
    expect(report.queues).toEqual([
      { name: 'archive' },
      { name: 'videos', deadLetter: { exchange: 'dlx', routingKey: 'dead', queues: ['dead'] } },
    ]);
    const { error } = await failure(['route', 'nope', 'x', '--url', url]);
    expect(error.message).toBe(`exchange 'nope' does not exist on ${url}`);
  });
});

describe('wakame validate with routing tests', () => {
  it('says how many routing tests passed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-route-'));
    const tested = join(dir, 'tested.yaml');
    const cases = `expect:
  - publish: { exchange: tasks, routingKey: video.encode, headers: { format: mp4, pages: 500 } }
    reaches: [videos, archive]
  - publish: { exchange: tasks, routingKey: audio.play }
    reaches: [lost]
    notReaches: [archive]
`;
    await writeFile(tested, `${TOPOLOGY}${cases}`);
    const c = capture();
    await runCli(c.ctx, ['validate', tested]);
    expect(c.out.at(-1)).toMatch(/; 2 routing tests passed$/);
  });
});

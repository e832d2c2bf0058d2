import { describe, expect, it } from 'vitest';
import { retryMessage, successFollowUps } from '../../src/celery/follow-ups.js';
import {
  CeleryProtocolError,
  CeleryRouter,
  type CelerySignature,
  CeleryUnsupportedError,
  celeryQueue,
  celeryTime,
  decodeCeleryTask,
  encodeCeleryTask,
  errorOf,
  exceptionInfo,
  resultMeta,
} from '../../src/index.js';

const NOW = new Date('2026-12-07T18:00:00.250Z');

describe('Celery protocol v2', () => {
  it('writes times with six fraction digits: Celery reads the digits as microseconds', () => {
    expect(celeryTime(NOW)).toBe('2026-12-07T18:00:00.250000+00:00');
  });

  it("encodes what Celery's as_task_v2 sends, and decodes it back", () => {
    const encoded = encodeCeleryTask({
      name: 'proj.add',
      id: 'id-1',
      args: [2, 3],
      kwargs: { z: 1 },
      countdown: 1.5,
      expires: 60,
      replyTo: 'reply.q',
      now: NOW,
    });
    expect(encoded.headers).toMatchObject({
      lang: 'js',
      task: 'proj.add',
      id: 'id-1',
      root_id: 'id-1',
      parent_id: null,
      retries: 0,
      eta: '2026-12-07T18:00:01.750000+00:00',
      expires: '2026-12-07T18:01:00.250000+00:00',
      timelimit: [null, null],
      argsrepr: '[2,3]',
      ignore_result: false,
    });
    expect(encoded.body).toEqual([[2, 3], { z: 1 }, { callbacks: null, errbacks: null, chain: null, chord: null }]);
    const task = decodeCeleryTask(JSON.parse(JSON.stringify(encoded.body)), encoded.headers, {
      correlationId: 'id-1',
      replyTo: 'reply.q',
    });
    expect(task).toMatchObject({ id: 'id-1', name: 'proj.add', args: [2, 3], kwargs: { z: 1 }, replyTo: 'reply.q' });
    expect(task.eta?.toISOString()).toBe('2026-12-07T18:00:01.750Z');
  });

  it("reads Python's microsecond times", () => {
    const task = decodeCeleryTask([[], {}, {}], { task: 't', id: 'i', eta: '2026-12-07T18:00:01.123456+00:00' });
    expect(task.eta?.toISOString()).toBe('2026-12-07T18:00:01.123Z');
  });

  it('refuses protocol v1 and malformed bodies with typed errors', () => {
    expect(() => decodeCeleryTask({ task: 'old', id: 'x', args: [] }, {})).toThrow(/protocol v1/);
    expect(() => decodeCeleryTask({ a: 1 }, { task: 't', id: 'i' })).toThrow(CeleryProtocolError);
    expect(() => decodeCeleryTask([{}, {}, {}], { task: 't', id: 'i' })).toThrow(/args must be a list/);
    expect(() => encodeCeleryTask({ name: '' })).toThrow(/needs a name/);
  });

  it('keeps a chain last step first, as Celery does', () => {
    const encoded = encodeCeleryTask({ name: 'a', chain: [{ task: 'b' }, { task: 'c' }] });
    expect(encoded.body[2].chain?.map((s) => s.task)).toEqual(['c', 'b']);
  });
});

describe('Celery follow-ups', () => {
  const router = new CeleryRouter({ 'py.*': 'python' }, 'fallback');

  it('sends the next chain step with the result first, the frozen id and reply queue, the rest of the chain', () => {
    const encoded = encodeCeleryTask({
      name: 'wk.double',
      id: 'root',
      chain: [
        { task: 'py.mul', args: [10], options: { task_id: 'step-2', reply_to: 'client.q' } },
        { task: 'other', options: { queue: 'q9' } },
      ],
    });
    const task = decodeCeleryTask(encoded.body, encoded.headers);
    const [next] = successFollowUps(task, 5, router);
    expect(next?.target).toMatchObject({ queue: { name: 'python' } });
    expect(next?.task.body[0]).toEqual([5, 10]);
    expect(next?.task).toMatchObject({ id: 'step-2', replyTo: 'client.q' });
    expect(next?.task.headers).toMatchObject({ parent_id: 'root', root_id: 'root' });
    expect(next?.task.body[2].chain?.map((s) => s.task)).toEqual(['other']);
  });

  it('expands a group step for each member, and refuses a group followed by more steps (a chord)', () => {
    const group = {
      task: 'celery.group',
      subtask_type: 'group',
      kwargs: {
        tasks: [
          { task: 'py.mul', args: [2] },
          { task: 'py.mul', args: [3] },
        ],
      },
      options: { task_id: 'g1' },
    };
    const fanOut = decodeCeleryTask(...withChain([group]));
    const members = successFollowUps(fanOut, 5, router);
    expect(members.map((m) => [m.task.body[0], m.task.headers.group, m.task.headers.group_index])).toEqual([
      [[5, 2], 'g1', 0],
      [[5, 3], 'g1', 1],
    ]);
    const chord = decodeCeleryTask(...withChain([group, { task: 'py.sum' }]));
    expect(() => successFollowUps(chord, 5, router)).toThrow(CeleryUnsupportedError);
  });

  it('retries with the same id, one more retry and an eta', () => {
    const task = decodeCeleryTask(...bodyAndHeaders());
    const again = retryMessage(task, { countdown: 2 }, celeryQueue('q'));
    expect(again.task.id).toBe(task.id);
    expect(again.task.headers.retries).toBe(1);
    expect(Date.parse(again.task.headers.eta as string)).toBeGreaterThan(Date.now());
  });
});

function bodyAndHeaders(): [unknown, Record<string, unknown>] {
  const encoded = encodeCeleryTask({ name: 'wk.flaky', args: [1] });
  return [encoded.body, { ...encoded.headers }];
}

describe('Celery results', () => {
  it("stores JavaScript errors under Python's names", () => {
    expect(exceptionInfo(new RangeError('r'))).toEqual({
      exc_type: 'ValueError',
      exc_message: ['r'],
      exc_module: 'builtins',
    });
    const custom = Object.assign(new Error('k'), { name: 'KeyError' });
    expect(exceptionInfo(custom).exc_module).toBe('builtins');
    const own = Object.assign(new Error('x'), { name: 'PaymentDeclined' });
    expect(exceptionInfo(own)).toEqual({ exc_type: 'PaymentDeclined', exc_message: ['x'], exc_module: null });
  });

  it('turns a FAILURE record into a typed error', () => {
    const meta = resultMeta(
      't1',
      'FAILURE',
      { exc_type: 'ValueError', exc_message: ['boom'], exc_module: 'builtins' },
      { traceback: 'tb' },
    );
    const error = errorOf(meta);
    expect([error.code, error.excType, error.excMessage, error.traceback]).toEqual([
      'ERR_CELERY_TASK_FAILED',
      'ValueError',
      'boom',
      'tb',
    ]);
    expect(meta.date_done).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  });

  it('routes by exact name, then glob, then the default queue', () => {
    const router = new CeleryRouter({ 'a.b': 'exact', 'a.*': 'glob' }, 'dflt');
    const queueOf = (name: string) => (router.route(name) as { queue: string }).queue;
    expect([queueOf('a.b'), queueOf('a.c'), queueOf('z')]).toEqual(['exact', 'glob', 'dflt']);
  });
});

/** A task whose chain is `steps` (in running order). */
function withChain(steps: readonly CelerySignature[]): [unknown, Record<string, unknown>] {
  const encoded = encodeCeleryTask({ name: 'wk.add', chain: steps });
  return [encoded.body, { ...encoded.headers }];
}

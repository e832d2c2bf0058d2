// Type tests of the path users take: `defineTopology({...})` → TaskName / TaskPayloads / TaskHandlers.
// `tsc` (pnpm typecheck) checks them; each `@ts-expect-error` must find an error.
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { TaskHandlers, TaskName, TaskPayloads } from '../../src/tasks/types.js';
import { defineTopology, type TopologyDocument } from '../../src/topology/document.js';

const topology = defineTopology({
  version: 1,
  exchanges: [{ name: 'tasks', type: 'direct' }],
  tasks: [
    {
      name: 'media.process',
      description: 'Transcode a video',
      payload: {
        type: 'object',
        required: ['url', 'formats'],
        properties: {
          url: { type: 'string' },
          formats: { type: 'array', items: { enum: ['mp4', 'webm'] } },
          priority: { type: 'integer' },
          callback: { type: ['string', 'null'] },
        },
        additionalProperties: false,
      },
    },
    {
      name: 'user.notify',
      payload: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
    },
    { name: 'cache.flush' },
  ],
});

type T = typeof topology;

/** Stands in for `TaskClient.send`: the payload type follows the task name. */
function send<Top extends TopologyDocument, N extends TaskName<Top>>(
  _topology: Top,
  name: N,
  payload: TaskPayloads<Top>[N],
): string {
  return `${name}:${JSON.stringify(payload)}`;
}

describe('TaskPayloads of a defineTopology() value', () => {
  it('knows the task names as a literal union', () => {
    expectTypeOf<TaskName<T>>().toEqualTypeOf<'media.process' | 'user.notify' | 'cache.flush'>();
    // @ts-expect-error not a task of the topology
    const name: TaskName<T> = 'media.delete';
    void name;
  });

  it('types each payload from its schema (a task without one takes unknown)', () => {
    expectTypeOf<TaskPayloads<T>['media.process']>().toEqualTypeOf<{
      url: string;
      formats: ('mp4' | 'webm')[];
      priority?: number;
      callback?: string | null;
    }>();
    expectTypeOf<TaskPayloads<T>['user.notify']>().toEqualTypeOf<{ userId: string }>();
    expectTypeOf<TaskPayloads<T>['cache.flush']>().toEqualTypeOf<unknown>();
  });

  it('checks handler payloads', () => {
    const handlers: TaskHandlers<T> = {
      'media.process': (payload) => payload.formats.map((f) => `${payload.url}.${f}`),
      'user.notify': (payload) => {
        // @ts-expect-error user.notify's payload has no `email`
        return payload.email;
      },
    };
    const wrongKey: TaskHandlers<T> = {
      // @ts-expect-error not a task of the topology
      'media.delete': () => undefined,
    };
    expect(Object.keys(handlers)).toEqual(['media.process', 'user.notify']);
    void wrongKey;
  });

  it('checks send() payloads against the task name', () => {
    expect(send(topology, 'user.notify', { userId: 'u1' })).toBe('user.notify:{"userId":"u1"}');
    send(topology, 'media.process', { url: 'https://x/v.mov', formats: ['mp4'], callback: null });
    send(topology, 'cache.flush', undefined);
    // @ts-expect-error userId must be a string
    send(topology, 'user.notify', { userId: 1 });
    // @ts-expect-error formats is required
    send(topology, 'media.process', { url: 'https://x/v.mov' });
    // @ts-expect-error 'avi' is not one of the formats
    send(topology, 'media.process', { url: 'https://x/v.mov', formats: ['avi'] });
    // @ts-expect-error additionalProperties: false
    send(topology, 'media.process', { url: 'https://x/v.mov', formats: [], extra: true });
    // @ts-expect-error the payload of another task
    send(topology, 'media.process', { userId: 'u1' });
    // @ts-expect-error not a task name
    send(topology, 'media.delete', {});
  });

  it('falls back to string names and unknown payloads for an untyped topology', () => {
    const untyped: TopologyDocument = topology;
    expectTypeOf<TaskName<typeof untyped>>().toEqualTypeOf<string>();
    expectTypeOf<TaskPayloads<typeof untyped>[string]>().toEqualTypeOf<unknown>();
  });
});

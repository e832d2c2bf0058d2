import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { generateTaskTypes } from '../../src/tasks/codegen.js';
import { compileTopology } from '../../src/topology/compile/compile.js';
import type { DesiredTopology } from '../../src/topology/desired.js';
import type { TopologyDocument } from '../../src/topology/document.js';
import { checkTopology } from '../../src/topology/pipeline.js';

const examples = fileURLToPath(new URL('../../../../examples/', import.meta.url));
const fromSchemaModule = fileURLToPath(new URL('../../src/tasks/from-schema.ts', import.meta.url));
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** What the generated module must compile under: the strictest options Wakame itself uses. */
const STRICT: ts.CompilerOptions = {
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noUnusedLocals: true,
  noImplicitOverride: true,
  verbatimModuleSyntax: true,
  allowImportingTsExtensions: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2022.d.ts'],
  types: [],
  noEmit: true,
};

/** Type-checks the generated module together with `extra` files; returns the diagnostics as text. */
async function compile(generated: string, extra: Readonly<Record<string, string>> = {}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'wakame-codegen-'));
  dirs.push(dir);
  const files = { 'topology.gen.ts': generated, ...extra };
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
  const program = ts.createProgram(
    Object.keys(files).map((name) => join(dir, name)),
    STRICT,
  );
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

/**
 * A module asserting, task by task, that the generated payload type is exactly `FromSchema` of the
 * task's schema written as a `const` literal: the two mappings must never drift apart.
 */
function sameAsFromSchema(desired: DesiredTopology): string {
  const lines = [
    `import type { FromSchema } from ${JSON.stringify(fromSchemaModule)};`,
    "import type { TaskPayloads } from './topology.gen.js';",
    'type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;',
    // Keeps the imports used (noUnusedLocals) when no task has a payload schema.
    'export type Used = [FromSchema<true>, TaskPayloads, Equal<1, 1>];',
  ];
  desired.tasks.forEach((task, i) => {
    if (task.payload === undefined) return;
    lines.push(`const schema${i} = ${JSON.stringify(task.payload)} as const;`);
    lines.push(
      `export const same${i}: Equal<FromSchema<typeof schema${i}>, TaskPayloads[${JSON.stringify(task.name)}]> = true;`,
    );
  });
  return `${lines.join('\n')}\n`;
}

function desiredOf(document: TopologyDocument): DesiredTopology {
  return compileTopology(document);
}

describe('generateTaskTypes on the examples', async () => {
  const names = (await readdir(examples, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  const withYaml: string[] = [];
  for (const name of names) {
    const checked = await checkTopology(join(examples, name, 'topology.yaml')).catch(() => undefined);
    if (checked?.desired) withYaml.push(name);
  }

  it('finds the YAML examples', () => {
    expect(withYaml).toEqual(expect.arrayContaining(['priority-tasks', 'media']));
  });

  it.each(withYaml)('examples/%s: compiles under strict options and equals FromSchema', async (name) => {
    const checked = await checkTopology(join(examples, name, 'topology.yaml'));
    const desired = checked.desired;
    if (!desired) throw new Error(`examples/${name} does not load`);
    const generated = generateTaskTypes(desired, { source: 'topology.yaml' });
    expect(await compile(generated, { 'same.ts': sameAsFromSchema(desired) })).toEqual([]);
    for (const task of desired.tasks) expect(generated).toContain(`Payload of the \`${task.name}\` task.`);
  });
});

describe('generateTaskTypes', () => {
  it('writes the header, one payload type per task, TaskPayloads and TaskName', () => {
    const desired = desiredOf({
      tasks: [
        {
          name: 'user.notify',
          description: 'Send a notification now',
          payload: {
            type: 'object',
            required: ['userId', 'text'],
            properties: {
              userId: { type: 'string', description: 'Who gets it' },
              text: { type: 'string', maxLength: 500 },
              channel: { enum: ['email', 'sms'], default: 'email' },
            },
            additionalProperties: false,
          },
        },
        { name: 'report.generate', payload: { type: 'string' } },
        { name: 'cache.flush' },
      ],
    });
    expect(generateTaskTypes(desired, { source: 'topology.yaml' })).toBe(
      [
        '// Generated by `wakame types` from topology.yaml. Do not edit: change the topology and run the command again.',
        '',
        '/** Payload of the `cache.flush` task. */',
        'export type CacheFlushPayload = unknown;',
        '',
        '/** Payload of the `report.generate` task. */',
        'export type ReportGeneratePayload = string;',
        '',
        '/**',
        ' * Send a notification now',
        ' *',
        ' * Payload of the `user.notify` task.',
        ' */',
        'export interface UserNotifyPayload {',
        '  /** Who gets it */',
        '  userId: string;',
        '  text: string;',
        '  /** @defaultValue "email" */',
        "  channel?: 'email' | 'sms';",
        '}',
        '',
        '/** Task name → payload type, for every task of the topology. */',
        'export interface TaskPayloads {',
        "  'cache.flush': CacheFlushPayload;",
        "  'report.generate': ReportGeneratePayload;",
        "  'user.notify': UserNotifyPayload;",
        '}',
        '',
        "/** The names of the topology's tasks. */",
        'export type TaskName = keyof TaskPayloads;',
        '',
      ].join('\n'),
    );
  });

  it('handles awkward names, keys, strings and descriptions, and the result compiles and equals FromSchema', async () => {
    const desired = desiredOf({
      tasks: [
        {
          name: 'media.transcode-v2',
          description: 'Transcodes — vidéo ✓ 動画\nSecond line with */ inside\u2028and a line separator',
          payload: {
            type: 'object',
            required: ['source', 'matrix', 'content-type', 'requiredOnly'],
            properties: {
              source: { type: 'string', description: 'The URL, e.g. `s3://…`' },
              'content-type': { enum: ["it's", 'back\\slash', 'line\nbreak', 'tab\there', '\u2028', 'ünï'] },
              matrix: { type: 'array', items: { type: 'array', items: { type: ['number', 'null'] } } },
              '0start': { type: 'boolean' },
              'with space': { const: { nested: [1, 'two', null], ok: true } },
              $dollar: { type: 'object', additionalProperties: { type: 'integer' } },
              __proto__x: { anyOf: [{ type: 'string' }, { type: 'array', items: { enum: [1, 2] } }] },
              tuple: { type: 'array', items: [{ type: 'string' }] },
              kinds: {
                oneOf: [
                  { type: 'object', required: ['k'], properties: { k: { const: 'a' } }, additionalProperties: false },
                  { type: 'object', required: ['k'], properties: { k: { const: -1.5e-7 } } },
                ],
              },
              both: {
                allOf: [
                  { type: 'object', required: ['a'], properties: { a: { type: 'string' } } },
                  { type: 'object', properties: { b: { type: 'number' } } },
                ],
              },
              never: false,
              anything: true,
              open: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: true },
              empty: { type: 'object', properties: {}, additionalProperties: false },
              unknownType: { type: 'date' },
            },
          },
        },
        { name: 'media-transcode.v2', payload: { type: ['string', 'null'] } },
        { name: '9lives', payload: { type: 'array', items: { $ref: '#/$defs/x' } } },
        { name: 'ünicode.täsk', payload: { enum: [] } },
        { name: 'weird', payload: { properties: { a: { type: 'string' } } } },
      ],
    });
    const generated = generateTaskTypes(desired, { source: 'edge\ncase.yaml' });
    expect(generated).toContain('export interface MediaTranscodeV2Payload2 {');
    expect(generated).toContain('export type MediaTranscodeV2Payload = string | null;');
    expect(generated).toContain('export type Task9livesPayload = unknown[];');
    expect(generated).toContain('export type ÜnicodeTäskPayload = never;');
    expect(generated).toContain('export type WeirdPayload = unknown;');
    expect(generated).toContain(
      "  'content-type': 'it\\'s' | 'back\\\\slash' | 'line\\nbreak' | 'tab\\there' | '\\u2028' | 'ünï';",
    );
    expect(generated).toContain('  matrix: (number | null)[][];');
    expect(generated).toContain("  '0start'?: boolean;");
    expect(generated).toContain('  requiredOnly: unknown;');
    expect(generated).toContain(' * Second line with *\\/ inside');
    expect(generated).toContain('from edge case.yaml.');
    expect(generated.split('\n')[0]).not.toContain('\n');

    const use = [
      "import type { MediaTranscodeV2Payload2, TaskName, TaskPayloads } from './topology.gen.js';",
      "export const names: TaskName[] = ['media.transcode-v2', 'media-transcode.v2', '9lives', 'ünicode.täsk', 'weird'];",
      'export const payload: MediaTranscodeV2Payload2 = {',
      "  source: 's3://b/k', matrix: [[1, null]], 'content-type': 'ünï', requiredOnly: 0,",
      "  kinds: { k: 'a' }, both: { a: 'x', b: 1 }, $dollar: { n: 1 }, open: { a: 'a', other: 1 }, empty: {},",
      '};',
      "export const nullable: TaskPayloads['media-transcode.v2'] = null;",
      '// @ts-expect-error not a task',
      "export const bad: TaskName = 'media.transcode';",
      '// @ts-expect-error source is a string',
      'export const badPayload: MediaTranscodeV2Payload2 = { ...payload, source: 1 };',
    ].join('\n');
    expect(await compile(generated, { 'use.ts': use, 'same.ts': sameAsFromSchema(desired) })).toEqual([]);
  });

  it('stops at the depth FromSchema stops at', async () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 11; i += 1) schema = { type: 'object', required: ['x'], properties: { x: schema } };
    const desired = desiredOf({ tasks: [{ name: 'deep', payload: schema }] });
    const generated = generateTaskTypes(desired);
    expect(generated).toContain('x: unknown;');
    expect(generated).not.toContain('string');
    expect(generated.startsWith('// Generated by `wakame types`. Do not edit')).toBe(true);
    expect(await compile(generated, { 'same.ts': sameAsFromSchema(desired) })).toEqual([]);
  });

  it('is deterministic and compiles for a topology without tasks', async () => {
    const desired = desiredOf({});
    const generated = generateTaskTypes(desired);
    expect(generated).toBe(generateTaskTypes(desired));
    expect(generated).toContain('export interface TaskPayloads {\n}');
    expect(await compile(generated)).toEqual([]);
  });
});

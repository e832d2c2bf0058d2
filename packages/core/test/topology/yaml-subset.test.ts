// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` in plain strings is the interpolation syntax under test.
/**
 * The fast YAML reader is held to the full parser: on every text it reads, it must give exactly the
 * value the `yaml` Document path gives (with the same interpolation); on anything else it must step
 * aside (`undefined`) so the full parser reports it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTopologyText } from '../../src/topology/load/load.js';
import { parseYamlDocument } from '../../src/topology/load/load-yaml.js';
import { readYamlSubset } from '../../src/topology/load/yaml-subset.js';

const ENV = { NAME: 'orders', PORT: '5672', EMPTY: '', FLAG: 'true', TTL: '60000' };

/** The full parser's value, or `undefined` when it reports an error (the reader must step aside then). */
function fullValue(text: string): unknown {
  const { part, issues } = parseYamlDocument(text, 'test.yaml', ENV);
  if (part === undefined || issues.some((i) => i.severity === 'error')) return undefined;
  return part.value;
}

/** Asserts the reader agrees with the full parser on `text`; returns whether it read it. */
function agrees(text: string): boolean {
  const fast = readYamlSubset(text, ENV);
  if (fast === undefined) return false;
  expect(fast, text).toStrictEqual(fullValue(text));
  return true;
}

const REPO = join(import.meta.dirname, '../../../..');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

describe('readYamlSubset', () => {
  it('reads the usual topology style, flow and block, exactly as the full parser', () => {
    const text = [
      '# a comment',
      'version: 1',
      'name: ${NAME}-stack',
      'exchanges:',
      '  - { name: tasks, type: direct }',
      '  - name: events   # trailing comment',
      '    type: topic',
      '    arguments: {}',
      'queues:',
      '- name: hipri',
      '  maxPriority: 10',
      '  messageTtl: ${TTL:-3600000}',
      '  bindings: [{ exchange: tasks, routingKey: \'hipri\' }, { exchange: events, routingKey: "a.*.#" }]',
      '  deadLetter:',
      '    exchange: dlx',
      '',
      '- name: "lo pri"',
      '  durable: false',
      "  arguments: { x-note: 'it''s', x-url: amqp://host:5672/v, x-n: -0.5e3 }",
      'priorityClasses: { high: hipri, low: lopri }',
      'routes:',
      "  - { match: '**', exchange: tasks }",
      'tasks:',
      '  - name: report.generate',
      '    payload: { type: object, required: [reportId], properties: { reportId: { type: string } } }',
      '    empty:',
      '    list:',
      '      -',
      '      - ~',
      '      - [ ]',
    ].join('\n');
    expect(agrees(text)).toBe(true);
  });

  it('resolves plain scalars with the core schema, as the full parser', () => {
    const scalars = [
      '1',
      '-0',
      '+12',
      '007',
      '0o17',
      '0o19',
      '0x1F',
      '0xG',
      '1.5',
      '1.',
      '.5',
      '-.5',
      '1e3',
      '1.5E-2',
      '+.inf',
      '-.Inf',
      '.NaN',
      '.nan',
      'nan',
      '1_000',
      'true',
      'True',
      'TRUE',
      'tRUE',
      'yes',
      'no',
      'on',
      'off',
      'null',
      'Null',
      'NULL',
      '~',
      'nULL',
      '12:30',
      '2024-01-01',
      '0b101',
      '${PORT}',
      '${FLAG}',
      '${EMPTY:-7}',
      '$${PORT}',
      'a$b',
      '${EMPTY}',
      'x${NAME}',
      '-x',
      '?x',
      ':x',
      'a#b',
      'a b  c',
      "it's",
      'say "hi"',
      'é',
    ];
    let read = 0;
    for (const s of scalars) {
      if (agrees(`a: ${s}\nd:\n  - ${s}\n`)) read++;
      // In a flow collection `{` and `}` are indicators: `${VAR}` there goes to the full parser.
      agrees(`b: [${s}]\nc: { k: ${s} }\n`);
    }
    expect(read).toBeGreaterThan(scalars.length - 5);
  });

  it('steps aside on everything outside the subset, and the full parser reads or reports it', () => {
    const outside = [
      'a: &x 1\nb: *x\n',
      'base: &b { durable: false }\nq:\n  <<: *b\n',
      'a: !!str 10\n',
      'a: !custom x\n',
      'a: !!js/function "function () {}"\n',
      'a: |\n  text\n',
      'a: >-\n  folded\n',
      'a: plain\n  continued\n',
      'a: [1,\n  2]\n',
      "a: 'open\n  quote'\n",
      'a: 1\na: 2\n',
      '1: one\n',
      'true: yes\n',
      '%YAML 1.2\n---\na: 1\n',
      '---\na: 1\n',
      'a:\tb\n',
      'a: 1\r\nb: 2\r\n',
      '- a\n- b\n',
      'just a string\n',
      '',
      '# only a comment\n',
      'a: b: c\n',
      'a: [1, 2,]\n',
      'a: { b }\n',
      'a: "\\x41"\n',
      'a:\n  - b\n   - c\n',
      'a:\n    b: 1\n  c: 2\n',
      '? complex\n: key\n',
      'a: ${MISSING}\n',
      'a: ${bad name}\n',
      '__proto__: { polluted: true }\n',
      'a: [b: c]\n',
      'a: {b: c d: e}\n',
      'a: - b\n',
      'a: "x" y\n',
    ];
    for (const text of outside) expect(readYamlSubset(text, ENV), text).toBeUndefined();
  });

  it('agrees with the full parser on every topology file in the repository', () => {
    const files = [
      ...yamlFiles(join(REPO, 'examples')),
      ...yamlFiles(join(REPO, 'packages/core/test/topology/fixtures')),
    ];
    expect(files.length).toBeGreaterThan(5);
    let read = 0;
    for (const file of files) if (agrees(readFileSync(file, 'utf8'))) read++;
    // Most are in the subset; the rest (anchors, block scalars, …) go to the full parser.
    expect(read).toBeGreaterThan(files.length / 2);
  });

  it('agrees with the full parser on generated variations', () => {
    // A deterministic generator (no Math.random): each text mixes the constructs above.
    let seed = 42;
    const next = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const scalars = [
      'q1',
      "'a b'",
      '"x\\"y"',
      '5',
      '-3',
      '0x10',
      '1e2',
      'true',
      '~',
      '',
      '${NAME}',
      'a: b',
      '#c',
      'a #c',
      '[]',
      '{}',
      '[a, b]',
      '{ k: v }',
      "'it''s'",
      'amqp://h:1/v',
    ];
    const keys = ['name', 'type', '"quoted key"', "'k'", 'x-arg', 'a.b', 'k1', 'k2'];
    const block = (depth: number, indent: string): string[] => {
      const lines: string[] = [];
      const entries = 1 + next(3);
      const asSequence = depth > 0 && next(3) === 0;
      for (let i = 0; i < entries; i++) {
        const value = scalars[next(scalars.length)] as string;
        const head = asSequence ? `${indent}- ` : `${indent}${keys[next(keys.length)]}:`;
        if (depth < 3 && next(3) === 0) {
          lines.push(head.trimEnd(), ...block(depth + 1, `${indent}${next(2) === 0 ? '  ' : '    '}`));
        } else {
          lines.push(`${head}${asSequence ? '' : ' '}${value}`.trimEnd());
        }
        if (next(5) === 0) lines.push(`${indent}# comment`);
      }
      return lines;
    };
    let read = 0;
    for (let n = 0; n < 400; n++) if (agrees(`${block(0, '').join('\n')}\n`)) read++;
    expect(read).toBeGreaterThan(40);
  });

  it('keeps line:col of issues in a file it read: the full parser locates them', () => {
    const text = 'version: 1\nqueues:\n  - name: q\n    maxPriority: 300\n';
    expect(readYamlSubset(text, ENV)).toBeDefined();
    const parsed = parseTopologyText(text, 'topology.yaml', { env: ENV });
    expect(parsed.topology?.locate('/queues/0/maxPriority')).toMatchObject({ line: 4, column: 18 });
    expect(parsed.topology?.locate('/queues/0', { key: true })).toMatchObject({ line: 3, column: 5 });
  });
});

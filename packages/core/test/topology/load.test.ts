// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` in plain strings is the interpolation syntax under test.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopologyIssue } from '../../src/errors.js';
import { interpolate, retypePlainScalar } from '../../src/topology/load/interpolate.js';
import { loadTopology, parseTopologyText } from '../../src/topology/load/load.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wakame-load-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An issue on one line, for compact expectations. */
function row(issue: TopologyIssue): string {
  return `${issue.file}:${issue.line}:${issue.column} ${issue.keyword} ${issue.path}: ${issue.message}`;
}

/** Writes `files` (path relative to a fresh directory → content) and returns the directory. */
async function tree(name: string, files: Record<string, string>): Promise<string> {
  const base = join(dir, name);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(base, path)), { recursive: true });
    await writeFile(join(base, path), content);
  }
  return base;
}

describe('interpolate', () => {
  const env = { SET: 'value', EMPTY: '' };

  it('replaces set variables and applies defaults to unset or empty ones, as shells do', () => {
    expect(interpolate('a-${SET}-b', env)).toEqual({ value: 'a-value-b', changed: true, problems: [] });
    expect(interpolate('${UNSET:-fallback}', env).value).toBe('fallback');
    expect(interpolate('${EMPTY:-fallback}', env).value).toBe('fallback');
    expect(interpolate('${EMPTY}', env).value).toBe('');
    expect(interpolate('${SET:-fallback}', env).value).toBe('value');
    expect(interpolate('${UNSET:-}', env).value).toBe('');
    expect(interpolate('${UNSET:-a:b c}', env).value).toBe('a:b c');
  });

  it('reports a missing variable by name and leaves its expression in place', () => {
    const result = interpolate('q-${MISSING}', env);
    expect(result.value).toBe('q-${MISSING}');
    expect(result.problems).toEqual([
      {
        kind: 'missing',
        variable: 'MISSING',
        expression: '${MISSING}',
        index: 2,
        message: "environment variable 'MISSING' is not set (set it, or give a default: ${MISSING:-value})",
      },
    ]);
  });

  it('reads $${ as a literal ${ and leaves other dollars alone', () => {
    expect(interpolate('$${SET} costs $5 or $$', env)).toMatchObject({ value: '${SET} costs $5 or $$', problems: [] });
    expect(interpolate('$5 and $SET', env)).toEqual({ value: '$5 and $SET', changed: false, problems: [] });
  });

  it('reports malformed expressions instead of passing them through', () => {
    expect(interpolate('${1ABC}', env).problems[0]).toMatchObject({ kind: 'syntax', expression: '${1ABC}' });
    expect(interpolate('${A B}', env).problems[0]?.message).toMatch(/^invalid interpolation '\$\{A B\}'/);
    expect(interpolate('x ${SET', env).problems[0]?.message).toMatch(/^unterminated/);
    expect(interpolate('${A:-${B}}', env).problems[0]?.message).toMatch(/^nested interpolation/);
  });

  it('retypes plain scalars as the YAML core schema would', () => {
    const texts = ['60000', '0x1F', '0o17', '1.5e3', '-2', 'true', 'FALSE', 'null', '', '12abc', '1.2.3'];
    expect(texts.map(retypePlainScalar)).toEqual([60000, 31, 15, 1500, -2, true, false, 'null', '', '12abc', '1.2.3']);
  });
});

describe('interpolation in files', () => {
  const text = [
    'queues:',
    '  - name: ${PREFIX:-dev}-jobs', // 2
    '    messageTtl: ${TTL:-1000}', // 3
    "    durable: '${DURABLE:-true}'", // 4
    '    arguments:',
    '      x-note: "costs $${AMOUNT}"', // 6
    '      x-region: ${REGION}', // 7
    '      ${KEY}: not interpolated', // 8
  ].join('\n');

  it('interpolates values, retyping only unquoted ones', () => {
    const { topology, issues } = parseTopologyText(text, 'env.yaml', { env: { PREFIX: 'prod', REGION: 'eu' } });
    expect(issues).toEqual([]);
    expect(topology?.document.queues?.[0]).toEqual({
      name: 'prod-jobs',
      messageTtl: 1000,
      durable: 'true',
      arguments: { 'x-note': 'costs ${AMOUNT}', 'x-region': 'eu', '${KEY}': 'not interpolated' },
    });
  });

  it('locates a missing variable at its expression', () => {
    const { topology, issues } = parseTopologyText(text, 'env.yaml', { env: {} });
    expect(topology).toBeDefined();
    expect(issues.map(row)).toEqual([
      "env.yaml:7:17 env /queues/0/arguments/x-region: environment variable 'REGION' is not set (set it, or give a default: ${REGION:-value})",
    ]);
    expect(issues[0]).toMatchObject({ severity: 'error', sourceLine: '      x-region: ${REGION}' });
  });

  it('defaults to process.env', () => {
    process.env.WAKAME_TEST_LOAD_VAR = 'from-process';
    try {
      const { topology } = parseTopologyText('queues: [{ name: "${WAKAME_TEST_LOAD_VAR}" }]', 'p.yaml');
      expect(topology?.document.queues?.[0]?.name).toBe('from-process');
    } finally {
      delete process.env.WAKAME_TEST_LOAD_VAR;
    }
  });
});

describe('YAML safety', () => {
  it.each([
    ['a: !!js/function "function () {}"', '!!js/function'],
    ['a: !!binary aGVsbG8=', '!!binary'],
    ['a: !!set { x }', '!!set'],
    ['a: !!timestamp 2001-12-14', '!!timestamp'],
    ['a: !foo bar', '!foo'],
    ['a: !<tag:example.com,2000:x> b', 'tag:example.com,2000:x'],
  ])('refuses %s', (text, tag) => {
    const { issues } = parseTopologyText(text, 't.yaml', { env: {} });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: '/a', keyword: 'yaml-tag', line: 1 });
    expect(issues[0]?.message).toContain(`'${tag}'`);
  });

  it('accepts the core schema tags', () => {
    const { topology, issues } = parseTopologyText('a: !!str 10\nb: !!int "5"\nc: !!map { d: 1 }', 't.yaml');
    expect(issues).toEqual([]);
    expect(topology?.document).toEqual({ a: '10', b: 5, c: { d: 1 } });
  });

  it('reports a tag on a key', () => {
    const { issues } = parseTopologyText('!foo a: 1', 't.yaml');
    expect(issues[0]).toMatchObject({ keyword: 'yaml-tag', path: '' });
  });

  it('reports syntax errors with their position and a plain message', () => {
    const { topology, issues } = parseTopologyText("queues:\n  - name: 'unterminated\n", 's.yaml');
    expect(topology).toBeUndefined();
    expect(issues[0]).toMatchObject({ keyword: 'yaml-syntax', file: 's.yaml', line: 3, column: 1 });
    expect(issues[0]?.message).toBe("YAML syntax error: Missing closing 'quote");
  });

  it('reports duplicate keys, naming the first', () => {
    const { issues } = parseTopologyText('version: 1\nqueues: []\nversion: 1\n', 'd.yaml');
    expect(issues.map(row)).toEqual([
      "d.yaml:3:1 duplicate-key /version: duplicate key 'version' (first defined on line 1); only the last one would count",
    ]);
  });

  it('expands anchors and merge keys, within a limit', () => {
    const ok = parseTopologyText('a: &x { b: 1 }\nc: *x\nd: { <<: *x, e: 2 }', 'a.yaml');
    expect(ok.issues).toEqual([]);
    expect(ok.topology?.document).toEqual({ a: { b: 1 }, c: { b: 1 }, d: { b: 1, e: 2 } });
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const n of ['b', 'c', 'd', 'e'])
      laughs.push(
        `${n}: &${n} [${Array(10)
          .fill(`*${laughs.at(-1)?.[0]}`)
          .join(', ')}]`,
      );
    const bomb = parseTopologyText(laughs.join('\n'), 'bomb.yaml');
    expect(bomb.topology).toBeUndefined();
    expect(bomb.issues[0]).toMatchObject({ keyword: 'yaml-alias' });
    const unknown = parseTopologyText('a: *nope', 'u.yaml');
    expect(unknown.issues[0]).toMatchObject({ keyword: 'yaml-alias', path: '/a', line: 1, column: 4 });
  });

  it('requires a mapping at the top', () => {
    expect(parseTopologyText('', 'e.yaml').issues[0]?.message).toBe(
      "a topology file must be a mapping such as 'version: 1' (the file is empty)",
    );
    expect(parseTopologyText('just a string', 'e.yaml').issues[0]).toMatchObject({ keyword: 'type', path: '' });
  });
});

describe('locate', () => {
  const text = [
    'version: 1', // 1
    'queues:', // 2
    '  - name: hipri', // 3
    '    maxPriority: 10', // 4
    '    bindings:', // 5
    '      - { exchange: tasks, routingKey: hipri }', // 6
    '    arguments:', // 7
    '      x/y~z: 1', // 8
    '  - &lo', // 9
    '    name: lopri', // 10
    'tasks:', // 11
    '  - name: t', // 12
    '    deadLetter:', // 13
  ].join('\n');
  const topology = parseTopologyText(text, 'l.yaml').topology;
  const at = (pointer: string, key = false): string | undefined => {
    const l = topology?.locate(pointer, { key });
    return l && `${l.line}:${l.column} ${l.sourceLine.trim()}`;
  };

  it('points at scalar values, or at the key with { key: true }', () => {
    expect(at('/version')).toBe('1:10 version: 1');
    expect(at('/queues/0/maxPriority')).toBe('4:18 maxPriority: 10');
    expect(at('/queues/0/maxPriority', true)).toBe('4:5 maxPriority: 10');
    expect(at('/queues/0/bindings/0/routingKey')).toBe('6:40 - { exchange: tasks, routingKey: hipri }');
  });

  it('points at the key of a block collection and at the start of list items', () => {
    expect(at('/queues')).toBe('2:1 queues:');
    expect(at('/queues/0/bindings')).toBe('5:5 bindings:');
    expect(at('/queues/0/bindings/0')).toBe('6:9 - { exchange: tasks, routingKey: hipri }');
    expect(at('/queues/1')).toBe('10:5 name: lopri');
    expect(at('')).toBe('1:1 version: 1');
  });

  it('points at the key of an empty value', () => {
    expect(at('/tasks/0/deadLetter')).toBe('13:5 deadLetter:');
  });

  it('unescapes pointer segments', () => {
    expect(at('/queues/0/arguments/x~1y~0z')).toBe('8:14 x/y~z: 1');
  });

  it('follows aliases and << merge keys to where the value is written', () => {
    const merged = parseTopologyText(
      'base: &b\n  durable: true\nq:\n  <<: *b\n  name: ${N:-n}\nr: { <<: [*b] }\n',
      'm.yaml',
      {
        env: {},
      },
    ).topology;
    expect(merged?.document).toEqual({
      base: { durable: true },
      q: { durable: true, name: 'n' },
      r: { durable: true },
    });
    expect(merged?.locate('/q/durable')).toMatchObject({ line: 2, column: 12 });
    expect(merged?.locate('/r/durable')).toMatchObject({ line: 2, column: 12 });
    expect(merged?.locate('/q/name')).toMatchObject({ line: 5, column: 9 });
  });

  it('falls back to the closest existing ancestor', () => {
    expect(at('/queues/0/nope/deeper')).toBe('3:5 - name: hipri');
    expect(at('/queues/7')).toBe('2:1 queues:');
  });
});

describe('includes', () => {
  it('merges included files first, in order, resolving paths against the including file', async () => {
    const base = await tree('merge', {
      'root.yaml': [
        'version: 1', // 1
        'include: [sub/a.yaml, b.yaml]', // 2
        'queues:', // 3
        '  - name: root-q', // 4
        'priorityClasses: { high: root-q }', // 5
        'defaults:', // 6
        '  queue: { maxPriority: 10 }', // 7
      ].join('\n'),
      'sub/a.yaml': 'include: [../common/c.yaml]\nqueues:\n  - name: a-q\npriorityClasses: { high: a-q, low: a-q }\n',
      'b.yaml':
        'queues:\n  - name: b-q\n    maxPriority: 300\nexchanges: [{ name: b-x }]\ndefaults:\n  queue: { durable: false, maxPriority: 5 }\n',
      'common/c.yaml': 'queues:\n  - name: c-q\n',
    });
    const { topology, issues } = await loadTopology(join(base, 'root.yaml'), { env: {} });
    expect(issues).toEqual([]);
    expect(topology?.files).toEqual(['root.yaml', 'sub/a.yaml', 'common/c.yaml', 'b.yaml'].map((f) => join(base, f)));
    expect(topology?.document).toEqual({
      version: 1,
      include: ['sub/a.yaml', 'b.yaml'],
      queues: [{ name: 'c-q' }, { name: 'a-q' }, { name: 'b-q', maxPriority: 300 }, { name: 'root-q' }],
      priorityClasses: { high: 'root-q', low: 'a-q' },
      exchanges: [{ name: 'b-x' }],
      defaults: { queue: { durable: false, maxPriority: 10 } },
    });
    const where = (pointer: string): string | undefined => {
      const l = topology?.locate(pointer);
      return l && `${l.file.slice(base.length + 1)}:${l.line}:${l.column}`;
    };
    expect(where('/queues/0/name')).toBe('common/c.yaml:2:11');
    expect(where('/queues/1')).toBe('sub/a.yaml:3:5');
    expect(where('/queues/2/maxPriority')).toBe('b.yaml:3:18');
    expect(where('/queues/3/name')).toBe('root.yaml:4:11');
    expect(where('/priorityClasses/high')).toBe('root.yaml:5:26');
    expect(where('/priorityClasses/low')).toBe('sub/a.yaml:4:36');
    expect(where('/defaults/queue/durable')).toBe('b.yaml:6:21');
    expect(where('/defaults/queue/maxPriority')).toBe('root.yaml:7:25');
    expect(where('/exchanges/0/name')).toBe('b.yaml:4:21');
    expect(where('/include/1')).toBe('root.yaml:2:23');
  });

  it('merges a file included twice only once', async () => {
    const base = await tree('diamond', {
      'root.yaml': 'include: [a.yaml, b.yaml]\n',
      'a.yaml': 'include: [common.yaml]\nqueues: [{ name: a }]\n',
      'b.yaml': 'include: [common.yaml]\nqueues: [{ name: b }]\n',
      'common.yaml': 'queues: [{ name: common }]\n',
    });
    const { topology, issues } = await loadTopology(join(base, 'root.yaml'));
    expect(issues).toEqual([]);
    expect(topology?.document.queues?.map((q) => q.name)).toEqual(['common', 'a', 'b']);
    expect(topology?.files).toHaveLength(4);
  });

  it('reports a cycle with its chain, at the include that closes it', async () => {
    const base = await tree('cycle', {
      'root.yaml': 'include: [a.yaml]\n',
      'a.yaml': 'include: [sub/b.yaml]\n',
      'sub/b.yaml': 'queues: []\ninclude:\n  - ../a.yaml\n',
    });
    const { topology, issues } = await loadTopology(join(base, 'root.yaml'));
    expect(topology).toBeDefined();
    expect(issues.map(row)).toEqual([
      `${join(base, 'sub/b.yaml')}:3:5 include-cycle /include/0: include cycle: a.yaml → sub/b.yaml → a.yaml`,
    ]);
    expect(issues[0]?.sourceLine).toBe('  - ../a.yaml');
  });

  it('reports unreadable and unsupported includes at the include entry', async () => {
    const base = await tree('missing', { 'root.yaml': 'include:\n  - nope.yaml\n  - data.toml\n' });
    const { issues } = await loadTopology(join(base, 'root.yaml'));
    expect(issues.map((i) => [i.path, i.keyword, i.line, i.message])).toEqual([
      ['/include/0', 'file', 2, 'file not found: nope.yaml'],
      [
        '/include/1',
        'file',
        3,
        `unsupported topology file type '.toml' for ${join(base, 'data.toml')}: use .yaml, .yml, .json, .ts, .mts, .js or .mjs`,
      ],
    ]);
  });

  it('reports a missing root file without a topology', async () => {
    const { topology, issues } = await loadTopology(join(dir, 'does-not-exist.yaml'));
    expect(topology).toBeUndefined();
    expect(issues).toEqual([
      { path: '', message: 'file not found: does-not-exist.yaml', keyword: 'file', severity: 'error' },
    ]);
  });

  it('reads through options.readFile and interpolates include paths', async () => {
    const files: Record<string, string> = {
      '/virtual/root.yaml': 'include: ["${PART}.yaml"]\nqueues: [{ name: root }]\n',
      '/virtual/extra.yaml': 'queues: [{ name: extra }]\n',
    };
    const read: string[] = [];
    const { topology, issues } = await loadTopology('/virtual/root.yaml', {
      env: { PART: 'extra' },
      readFile: async (path) => {
        read.push(path);
        const text = files[path];
        if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
        return text;
      },
    });
    expect(issues).toEqual([]);
    expect(read).toEqual(['/virtual/root.yaml', '/virtual/extra.yaml']);
    expect(topology?.document.queues).toEqual([{ name: 'extra' }, { name: 'root' }]);
  });

  it('refuses includes in text without a file', () => {
    const { topology, issues } = parseTopologyText('version: 1\ninclude: [a.yaml]\n', '<stdin>');
    expect(topology).toBeDefined();
    expect(issues).toMatchObject([{ path: '/include', keyword: 'include', file: '<stdin>', line: 2, column: 1 }]);
    expect(issues[0]?.message).toMatch(/^includes need a file path/);
  });
});

describe('topology modules', () => {
  it('loads the default export of a .mjs module, and its includes', async () => {
    const base = await tree('mjs', {
      'topology.mjs':
        "export default { version: 1, include: ['base.yaml'], queues: [{ name: 'from-module', maxPriority: 999 }] };\n",
      'base.yaml': 'queues:\n  - name: ${NAME:-from-yaml}\n',
    });
    const { topology, issues } = await loadTopology(join(base, 'topology.mjs'), { env: {} });
    expect(issues).toEqual([]);
    expect(topology?.document.queues).toEqual([{ name: 'from-yaml' }, { name: 'from-module', maxPriority: 999 }]);
    expect(topology?.locate('/queues/1/maxPriority')).toBeUndefined();
    expect(topology?.locate('/queues/0/name')).toMatchObject({ file: join(base, 'base.yaml'), line: 2 });
  });

  it('takes a `topology` export when there is no default export', async () => {
    const base = await tree('named', { 'topology.js': "export const topology = { queues: [{ name: 'named' }] };\n" });
    await writeFile(join(base, 'package.json'), '{ "type": "module" }');
    const { topology, issues } = await loadTopology(join(base, 'topology.js'));
    expect(issues).toEqual([]);
    expect(topology?.document.queues).toEqual([{ name: 'named' }]);
  });

  it('loads a .ts module when a TypeScript loader is active (vitest is one)', async () => {
    const base = await tree('ts', {
      'topology.ts': [
        'type Queue = { readonly name: string; readonly maxPriority?: number };',
        "const queues: readonly Queue[] = [{ name: 'typed', maxPriority: 5 }];",
        'export default { version: 1 as const, queues };',
      ].join('\n'),
    });
    const { topology, issues } = await loadTopology(join(base, 'topology.ts'));
    expect(issues).toEqual([]);
    expect(topology?.document.queues).toEqual([{ name: 'typed', maxPriority: 5 }]);
  });

  it('explains how to load .ts files when Node cannot', async () => {
    const { topology, issues } = await loadTopology(join(dir, 'x.ts'), {
      importModule: async () => {
        throw Object.assign(new TypeError('Unknown file extension ".ts"'), { code: 'ERR_UNKNOWN_FILE_EXTENSION' });
      },
    });
    expect(topology).toBeUndefined();
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ keyword: 'module', path: '' });
    expect(issues[0]?.message).toMatch(/no TypeScript loader; run it through tsx .* or write the topology in YAML$/);
  });

  it('reports modules without a usable export, and modules that throw', async () => {
    const base = await tree('bad-modules', {
      'none.mjs': 'export const other = 1;\n',
      'array.mjs': 'export default [];\n',
      'throws.mjs': "throw new Error('boom');\n",
    });
    const messages = await Promise.all(
      ['none.mjs', 'array.mjs', 'throws.mjs', 'absent.mjs'].map(
        async (f) => (await loadTopology(join(base, f))).issues[0]?.message,
      ),
    );
    expect(messages).toEqual([
      `topology module ${join(base, 'none.mjs')} has neither a default export nor a 'topology' export`,
      `the topology exported by ${join(base, 'array.mjs')} must be an object (use defineTopology({...})), got an array`,
      `cannot import topology module ${join(base, 'throws.mjs')}: boom`,
      expect.stringMatching(/absent\.mjs/),
    ]);
  });
});

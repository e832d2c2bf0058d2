import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TopologyIssue } from '../../src/errors.js';
import { formatIssue, formatIssues } from '../../src/topology/check/format-issues.js';
import { validateSchema } from '../../src/topology/check/validate.js';
import { closest } from '../../src/topology/check/validate-messages.js';
import type { TopologyDocument } from '../../src/topology/document.js';
import { parseTopologyText, topologyFromDocument } from '../../src/topology/load/load.js';

/** Schema issues of a YAML text, as `path: message` lines. */
function check(text: string): string[] {
  const { topology, issues } = parseTopologyText(text, 'v.yaml', { env: {} });
  expect(issues).toEqual([]);
  if (!topology) throw new TypeError('no topology');
  return validateSchema(topology).map((i) => `${i.path}: ${i.message}`);
}

describe('schema messages', () => {
  it('suggests the closest property name for a typo', () => {
    expect(check('queues: [{ name: q, maxPriorty: 1 }]')).toEqual([
      "/queues/0/maxPriorty: unknown property 'maxPriorty' (did you mean 'maxPriority'?)",
    ]);
    expect(check('queues: [{ name: q, Durable: true }]')).toEqual([
      "/queues/0/Durable: unknown property 'Durable' (did you mean 'durable'?)",
    ]);
    expect(check('exchnages: []')).toEqual(["/exchnages: unknown property 'exchnages' (did you mean 'exchanges'?)"]);
  });

  it('lists the allowed properties when nothing is close', () => {
    expect(check('broadcasts: [{ name: b, colour: red }]')).toEqual([
      "/broadcasts/0/colour: unknown property 'colour' (allowed here: name, queuePrefix, durable)",
    ]);
  });

  it('lists enum values, with a suggestion when one is close', () => {
    expect(check('exchanges: [{ name: x, type: topik }]')).toEqual([
      "/exchanges/0/type: must be one of 'direct', 'topic', 'fanout', 'headers', got 'topik' (did you mean 'topic'?)",
    ]);
    expect(check('queues: [{ name: q, queueType: lazy }]')).toEqual([
      "/queues/0/queueType: must be one of 'classic', 'quorum', 'stream', got 'lazy'",
    ]);
  });

  it('says what type was expected and what was found', () => {
    expect(
      check(
        [
          'queues:',
          '  - name: 5',
          '    durable: "yes"',
          '    maxPriority: 2.5',
          '    bindings: { exchange: x }',
          '    arguments: []',
          'tasks: [{ name: t, payload: "string" }]',
          'bindings: [{ exchange: x, destination: d, headers: { a: null } }]',
          'priorityClasses: []',
        ].join('\n'),
      ),
    ).toEqual([
      '/queues/0/name: expected a string, got 5',
      "/queues/0/durable: expected true or false, got the string 'yes'",
      '/queues/0/maxPriority: expected an integer, got the number 2.5',
      '/queues/0/bindings: expected a list, got a mapping',
      '/queues/0/arguments: expected a mapping, got a list',
      "/tasks/0/payload: expected a mapping, got the string 'string'",
      '/bindings/0/headers/a: expected a string, a number or a boolean, got an empty value',
      '/priorityClasses: expected a mapping, got a list',
    ]);
  });

  it('names a missing required property at its parent', () => {
    expect(check('queues: [{ durable: true }]\nroutes: [{ match: "a.*" }]')).toEqual([
      "/queues/0: missing required property 'name'",
      "/routes/0: missing required property 'exchange'",
    ]);
  });

  it('gives bounds in words', () => {
    expect(
      check(
        [
          'queues: [{ name: q, maxPriority: 0, expires: 4294967296 }]',
          'tasks: [{ name: t, retry: { maxAttempts: 101, jitter: -0.5, factor: 0 } }]',
        ].join('\n'),
      ),
    ).toEqual([
      '/queues/0/maxPriority: must be at least 1, got 0',
      '/queues/0/expires: must be at most 4294967295, got 4294967296',
      '/tasks/0/retry/maxAttempts: must be at most 100, got 101',
      '/tasks/0/retry/jitter: must be at least 0, got -0.5',
      '/tasks/0/retry/factor: must be at least 1, got 0',
    ]);
  });

  it('checks string lengths and the version', () => {
    expect(
      check(
        `version: 2\nexchanges: [{ name: "" }, { name: ${'x'.repeat(256)} }]\nroutes: [{ match: "", exchange: x }]`,
      ),
    ).toEqual([
      '/version: must be 1, got 2',
      '/exchanges/0/name: must not be empty',
      '/exchanges/1/name: must be at most 255 characters long, got 256',
      '/routes/0/match: must not be empty',
    ]);
  });

  it('reports a task priority of the wrong kind once, naming both accepted forms', () => {
    const { topology } = parseTopologyText('tasks:\n  - name: t\n    priority: { level: 3 }\n', 'p.yaml');
    if (!topology) throw new TypeError('no topology');
    expect(validateSchema(topology)).toEqual([
      {
        path: '/tasks/0/priority',
        message: 'must be a priority class name or an integer 0–255, got a mapping',
        keyword: 'oneOf',
        severity: 'error',
        file: 'p.yaml',
        line: 3,
        column: 15,
        sourceLine: '    priority: { level: 3 }',
      },
    ]);
    expect(check('tasks: [{ name: t, priority: -1 }, { name: u, priority: "" }, { name: v, priority: 7 }]')).toEqual([
      '/tasks/0/priority: must be a priority class name or an integer 0–255, got -1',
      "/tasks/1/priority: must be a priority class name or an integer 0–255, got the string ''",
    ]);
  });

  it('reports every problem at once, in source order', () => {
    const text = [
      'version: 1',
      'exchanges:',
      '  - name: x',
      '    type: nope', // 4
      'queues:',
      '  - name: q',
      '    maxPriority: 256', // 7
      '    bindings:',
      '      - routingKey: k', // 9
      '  - nam: r', // 10
      'tasks:',
      '  - name: t',
      '    retry: { maxAttempts: 0 }', // 13
    ].join('\n');
    const { topology } = parseTopologyText(text, 'all.yaml');
    if (!topology) throw new TypeError('no topology');
    const issues = validateSchema(topology);
    expect(issues.map((i) => `${i.line}:${i.column} ${i.keyword} ${i.path}`)).toEqual([
      '4:11 enum /exchanges/0/type',
      '7:18 maximum /queues/0/maxPriority',
      '9:9 required /queues/0/bindings/0',
      '10:5 required /queues/1',
      '10:5 additionalProperties /queues/1/nam',
      '13:27 minimum /tasks/0/retry/maxAttempts',
    ]);
    expect(issues[4]?.message).toBe("unknown property 'nam' (did you mean 'name'?)");
  });

  it('validates documents built in code, without positions', () => {
    const document = { queues: [{ name: 'q', maxPriority: 1000 }] } as const satisfies TopologyDocument;
    expect(validateSchema(topologyFromDocument(document))).toEqual([
      {
        path: '/queues/0/maxPriority',
        message: 'must be at most 255, got 1000',
        keyword: 'maximum',
        severity: 'error',
      },
    ]);
    expect(validateSchema(topologyFromDocument({ version: 1 }))).toEqual([]);
  });
});

describe('closest', () => {
  it('allows up to two edits, counting a swap of neighbours as one', () => {
    expect(closest('maxPriorty', ['maxPriority', 'maxLength'])).toBe('maxPriority');
    expect(closest('duarble', ['durable'])).toBe('durable');
    expect(closest('qeueuType', ['queueType'])).toBe('queueType');
    expect(closest('colour', ['name', 'durable'])).toBeUndefined();
    // Short words are within two edits of many others: no guess for them.
    expect(closest('x', ['a'])).toBeUndefined();
    expect(closest('ab', ['ax'])).toBe('ax');
  });
});

describe('formatIssue', () => {
  const issue: TopologyIssue = {
    path: '/queues/0/maxPriority',
    message: 'must be at most 255, got 300',
    keyword: 'maximum',
    severity: 'error',
    file: '/work/app/topology.yaml',
    line: 7,
    column: 18,
    sourceLine: '    maxPriority: 300',
  };

  it('prints position, path and message, then the line with a caret under the column', () => {
    expect(formatIssue(issue, { cwd: '/work/app' })).toBe(
      [
        'topology.yaml:7:18  /queues/0/maxPriority  must be at most 255, got 300',
        '    7 |     maxPriority: 300',
        '      |                  ^',
      ].join('\n'),
    );
  });

  it('keeps absolute paths outside the working directory, and tabs under tabs', () => {
    const text = formatIssue(
      { ...issue, file: '/elsewhere/t.yaml', line: 12, column: 4, sourceLine: '\t\tx: 1' },
      { cwd: '/work/app' },
    );
    expect(text).toBe(
      [
        '/elsewhere/t.yaml:12:4  /queues/0/maxPriority  must be at most 255, got 300',
        '   12 | \t\tx: 1',
        '      | \t\t ^',
      ].join('\n'),
    );
  });

  it('prints what it knows when the position is unknown', () => {
    expect(formatIssue({ path: '', message: 'a topology file must be a mapping' })).toBe(
      '/  a topology file must be a mapping',
    );
    expect(formatIssue({ path: '/a', message: 'm', file: 'rel.yaml', severity: 'warning' })).toBe(
      'rel.yaml  /a  warning: m',
    );
  });

  it('puts the caret past the end for errors at the end of a line', () => {
    expect(formatIssue({ path: '', message: 'm', file: 'f.yaml', line: 1, column: 5, sourceLine: 'ab' })).toBe(
      ['f.yaml:1:5  /  m', '    1 | ab', '      |     ^'].join('\n'),
    );
  });

  it('formats a list of issues one after the other', () => {
    const text = formatIssues([issue, { path: '/x', message: 'second' }], { cwd: join('/work', 'app') });
    expect(text.split('\n')).toHaveLength(4);
    expect(text.endsWith('\n/x  second')).toBe(true);
  });
});

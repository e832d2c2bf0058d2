import { describe, expect, it } from 'vitest';
import { expiryCycles, reachableQueues } from '../../src/topology/check/routing.js';
import { compileTopology } from '../../src/topology/compile/compile.js';
import type { TopologyDocument } from '../../src/topology/document.js';
import { toDot, toMermaid } from '../../src/topology/render/graph.js';

const small: TopologyDocument = {
  exchanges: [
    { name: 'tasks' },
    { name: 'media.events', type: 'topic', alternateExchange: 'unrouted' },
    { name: 'unrouted', type: 'fanout' },
    { name: 'dlx', type: 'fanout' },
    { name: 'h', type: 'headers' },
  ],
  queues: [
    {
      name: 'hipri',
      maxPriority: 10,
      deadLetter: { exchange: 'dlx', routingKey: 'dead' },
      bindings: [{ exchange: 'tasks', routingKey: 'hipri' }],
    },
    {
      name: 'media-log',
      bindings: [
        { exchange: 'media.events', routingKey: 'media.#' },
        { exchange: 'h', headers: { format: 'pdf' }, match: 'any' },
      ],
    },
    { name: 'dead', bindings: [{ exchange: 'dlx' }, { exchange: 'unrouted' }] },
  ],
  bindings: [{ exchange: 'tasks', destination: 'media.events', destinationType: 'exchange', routingKey: 'media' }],
  broadcasts: [{ name: 'reload' }],
  priorityClasses: { high: 'hipri' },
  tasks: [
    { name: 'media.process', priority: 'high', route: { exchange: 'tasks', routingKey: 'hipri' } },
    { name: 'ping', priority: 3, route: { exchange: '', routingKey: 'dead' } },
  ],
};

describe('toMermaid', () => {
  it('draws exchanges, queues, tasks and every kind of edge', () => {
    expect(toMermaid(compileTopology(small))).toMatchInlineSnapshot(`
      "flowchart LR
        ex_dlx("dlx (fanout)")
        ex_h("h (headers)")
        ex_media_2e_events("media.events (topic)")
        ex_reload("reload (fanout, broadcast)")
        ex_tasks("tasks (direct)")
        ex_unrouted("unrouted (fanout)")
        q_dead["dead"]
        q_hipri["hipri [high]"]
        q_media_2d_log["media-log"]
        t_media_2e_process{{"media.process"}}
        t_ping{{"ping (priority 3)"}}
        ex_dlx --> q_dead
        ex_h -->|"any: format=pdf"| q_media_2d_log
        ex_media_2e_events -->|"media.#35;"| q_media_2d_log
        ex_tasks -->|"media"| ex_media_2e_events
        ex_tasks -->|"hipri"| q_hipri
        ex_unrouted --> q_dead
        ex_media_2e_events -.->|"alternate"| ex_unrouted
        q_hipri -.->|"dead-letter: dead"| ex_dlx
        t_media_2e_process -->|"hipri"| ex_tasks
        t_media_2e_process -.->|"priority: high"| q_hipri
        t_ping -->|"default exchange"| q_dead
      "
    `);
  });

  it('sanitises node ids injectively and escapes labels', () => {
    const out = toMermaid(
      compileTopology({
        exchanges: [{ name: 'a.b' }, { name: 'a-b' }, { name: 'a_b' }],
        queues: [
          { name: 'say "hi" <b>', bindings: [{ exchange: 'a.b', routingKey: 'k|#"x"' }] },
          { name: 'ünï cødé 🐟', bindings: [{ exchange: 'a-b', routingKey: 'end' }] },
        ],
        tasks: [{ name: 'end' }],
      }),
    );
    expect(out).toMatchInlineSnapshot(`
      "flowchart LR
        ex_a_2d_b("a-b (direct)")
        ex_a_2e_b("a.b (direct)")
        ex_a_5f_b("a_b (direct)")
        q_say_20__22_hi_22__20__3c_b_3e_["say #34;hi#34; #60;b#62;"]
        q__fc_n_ef__20_c_f8_d_e9__20__1f41f_["ünï cødé 🐟"]
        t_end{{"end"}}
        ex_a_2d_b -->|"end"| q__fc_n_ef__20_c_f8_d_e9__20__1f41f_
        ex_a_2e_b -->|"k#124;#35;#34;x#34;"| q_say_20__22_hi_22__20__3c_b_3e_
      "
    `);
    const ids = [...out.matchAll(/^ {2}(\S+?)[[({]/gm)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_]+$/);
  });

  it('gives referenced but undeclared entities a node', () => {
    const out = toMermaid(
      compileTopology({ queues: [{ name: 'q', bindings: [{ exchange: 'amq.topic', routingKey: '#' }] }] }),
    );
    expect(out).toContain('ex_amq_2e_topic("amq.topic (topic)")');
    expect(out).toContain('ex_amq_2e_topic -->|"#35;"| q_q');
  });

  it('is deterministic', () => {
    expect(toMermaid(compileTopology(small))).toBe(toMermaid(compileTopology(small)));
  });
});

describe('toDot', () => {
  it('draws the same graph as a digraph', () => {
    expect(toDot(compileTopology(small))).toMatchInlineSnapshot(`
      "digraph topology {
        rankdir=LR;
        "exchange:dlx" [label="dlx (fanout)", shape=box, style=rounded];
        "exchange:h" [label="h (headers)", shape=box, style=rounded];
        "exchange:media.events" [label="media.events (topic)", shape=box, style=rounded];
        "exchange:reload" [label="reload (fanout, broadcast)", shape=box, style=rounded];
        "exchange:tasks" [label="tasks (direct)", shape=box, style=rounded];
        "exchange:unrouted" [label="unrouted (fanout)", shape=box, style=rounded];
        "queue:dead" [label="dead", shape=box];
        "queue:hipri" [label="hipri [high]", shape=box];
        "queue:media-log" [label="media-log", shape=box];
        "task:media.process" [label="media.process", shape=hexagon];
        "task:ping" [label="ping (priority 3)", shape=hexagon];
        "exchange:dlx" -> "queue:dead";
        "exchange:h" -> "queue:media-log" [label="any: format=pdf"];
        "exchange:media.events" -> "queue:media-log" [label="media.#"];
        "exchange:tasks" -> "exchange:media.events" [label="media"];
        "exchange:tasks" -> "queue:hipri" [label="hipri"];
        "exchange:unrouted" -> "queue:dead";
        "exchange:media.events" -> "exchange:unrouted" [label="alternate", style=dashed];
        "queue:hipri" -> "exchange:dlx" [label="dead-letter: dead", style=dashed];
        "task:media.process" -> "exchange:tasks" [label="hipri"];
        "task:media.process" -> "queue:hipri" [label="priority: high", style=dashed];
        "task:ping" -> "queue:dead" [label="default exchange"];
      }
      "
    `);
  });

  it('quotes ids and escapes labels', () => {
    const out = toDot(
      compileTopology({
        exchanges: [{ name: 'ex "q"' }],
        queues: [{ name: 'back\\slash ünï', bindings: [{ exchange: 'ex "q"', routingKey: 'line\nbreak' }] }],
      }),
    );
    expect(out).toMatchInlineSnapshot(`
      "digraph topology {
        rankdir=LR;
        "exchange:ex \\"q\\"" [label="ex \\"q\\" (direct)", shape=box, style=rounded];
        "queue:back\\\\slash ünï" [label="back\\\\slash ünï", shape=box];
        "exchange:ex \\"q\\"" -> "queue:back\\\\slash ünï" [label="line\\nbreak"];
      }
      "
    `);
  });
});

describe('reachableQueues', () => {
  const t = compileTopology(small);
  it('follows bindings by exchange type, through exchange-to-exchange bindings', () => {
    expect([...reachableQueues(t, 'tasks', 'hipri')]).toStrictEqual(['hipri']);
    // tasks → media.events with key 'media', which the topic binding 'media.#' matches.
    expect([...reachableQueues(t, 'tasks', 'media')]).toStrictEqual(['media-log']);
    expect([...reachableQueues(t, 'tasks', 'other')]).toStrictEqual([]);
    expect([...reachableQueues(t, 'media.events', 'media.x')]).toStrictEqual(['media-log']);
    expect([...reachableQueues(t, 'tasks', undefined)].sort()).toStrictEqual(['hipri', 'media-log']);
    expect([...reachableQueues(t, 'h', 'anything')]).toStrictEqual(['media-log']);
  });

  it('routes the default exchange by queue name, and nowhere for an unknown key', () => {
    expect([...reachableQueues(t, '', 'dead')]).toStrictEqual(['dead']);
    expect([...reachableQueues(t, '', 'nope')]).toStrictEqual([]);
    expect([...reachableQueues(t, '', undefined)]).toStrictEqual([]);
  });
});

describe('expiryCycles', () => {
  it('groups queues that expire into one another', () => {
    const t = compileTopology({
      queues: [
        { name: 'c', messageTtl: 1, deadLetter: { exchange: '', routingKey: 'b' } },
        { name: 'b', messageTtl: 1, deadLetter: { exchange: '', routingKey: 'c' } },
        { name: 'a', messageTtl: 1, deadLetter: { exchange: '', routingKey: 'b' } },
        { name: 'self', messageTtl: 1, deadLetter: { exchange: '', routingKey: 'self' } },
      ],
    });
    expect(expiryCycles(t)).toStrictEqual([['b', 'c'], ['self']]);
  });
});

describe('policies in diagrams', () => {
  const doc: TopologyDocument = {
    queues: [{ name: 'lopri' }, { name: 'hipri' }, { name: 'stream', queueType: 'stream' }],
    policies: [
      { name: 'all-ttl', pattern: '.*', applyTo: 'classic_queues', definition: { 'message-ttl': 5 } },
      { name: 'lopri', pattern: '^lopri$', priority: 5, definition: { 'max-length': 10, 'message-ttl': 1 } },
      { name: 'broken', pattern: '(', definition: { expires: 1000 } },
    ],
    operatorPolicies: [{ name: 'cap', vhost: 'orders', pattern: 'pri$', definition: { 'max-length': 100 } }],
  };

  it('draw each policy, with an edge to each queue it is the applicable one for', () => {
    // all-ttl: not to the stream (not a classic queue), nor to lopri (lopri's own policy has the
    // higher priority); the operator policy applies beside the user policy; broken is left out.
    expect(toMermaid(compileTopology(doc))).toBe(
      [
        'flowchart LR',
        '  q_hipri["hipri"]',
        '  q_lopri["lopri"]',
        '  q_stream["stream"]',
        '  p_operator_20_orders_2f_cap[/"operator policy cap @orders: max-length"/]',
        '  p__2f_all_2d_ttl[/"policy all-ttl: message-ttl"/]',
        '  p__2f_lopri[/"policy lopri: max-length, message-ttl"/]',
        '  p_operator_20_orders_2f_cap -.-> q_hipri',
        '  p_operator_20_orders_2f_cap -.-> q_lopri',
        '  p__2f_all_2d_ttl -.-> q_hipri',
        '  p__2f_lopri -.-> q_lopri',
        '',
      ].join('\n'),
    );
    expect(toDot(compileTopology(doc))).toContain('"policy:/lopri" -> "queue:lopri" [style=dashed];');
  });
});

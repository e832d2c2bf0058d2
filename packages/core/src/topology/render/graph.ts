/**
 * The desired topology as diagrams: Mermaid ({@link toMermaid}) or Graphviz DOT ({@link toDot}).
 *
 * Diagrams are deterministic (the compiled topology is sorted, and so is everything derived from
 * it here), so they can be committed and diffed. Entities that are referenced but not declared
 * (`amq.topic`, a typo) still get a node, so that no edge points nowhere. Policies get a node
 * and a dashed edge to each declared queue they apply to (the one of highest priority among those
 * that match it, by RabbitMQ's rules: {@link applicablePolicy}).
 *
 * @module
 */

import type { PolicySpec } from '../../model/broker-entities.js';
import { BUILTIN_EXCHANGES } from '../../model/builtin-exchanges.js';
import { applicablePolicy } from '../../model/policies.js';
import type { BindingSpec, ExchangeSpec, ExchangeType } from '../../transport/spi.js';
import { compareStrings } from '../compile/compile.js';
import type { DesiredTopology } from '../desired.js';

// ---------------------------------------------------------------------------------------------
// A neutral model of the diagram, rendered by both formats.

/** What a node of {@link topologyGraph} stands for. */
export type GraphNodeKind = 'exchange' | 'queue' | 'task' | 'policy';
type NodeKind = GraphNodeKind;
/** A node of {@link topologyGraph}: unique by kind and name; the label is the one both diagram formats show. */
export interface GraphNode {
  readonly kind: NodeKind;
  readonly name: string;
  readonly label: string;
}
type Node = GraphNode;
/** An edge of {@link topologyGraph}, between two nodes named by kind and name. */
export interface GraphEdge {
  readonly from: { readonly kind: NodeKind; readonly name: string };
  readonly to: { readonly kind: NodeKind; readonly name: string };
  readonly label: string;
  /** Dashed edges are not routing: dead-lettering, alternate exchanges, priority classes, policies. */
  readonly dashed: boolean;
}
type Edge = GraphEdge;

/**
 * The nodes and edges both diagram formats render, for renderers of their own (the CLI's dashboard
 * draws them as SVG in the browser). Deterministic, like the diagrams.
 */
export function topologyGraph(topology: DesiredTopology): {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
} {
  return buildGraph(topology);
}

/** What a binding selects on: its routing key, or for headers bindings the match and headers. */
function bindingLabel(binding: BindingSpec, sourceType: ExchangeType | undefined): string {
  const match = binding.arguments['x-match'];
  if (sourceType === 'headers' || match !== undefined) {
    const headers = Object.keys(binding.arguments)
      .filter((k) => k !== 'x-match')
      .sort(compareStrings)
      .map((k) => `${k}=${formatValue(binding.arguments[k])}`);
    return `${typeof match === 'string' ? match : 'all'}: ${headers.join(', ')}`.trim();
  }
  return sourceType === 'fanout' ? '' : binding.routingKey;
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Nodes and edges of a topology, in a deterministic order. */
function buildGraph(topology: DesiredTopology): { nodes: Node[]; edges: Edge[] } {
  const exchanges = new Map<string, ExchangeSpec>(topology.exchanges.map((e) => [e.name, e]));
  const broadcasts = new Set(topology.broadcasts.map((b) => b.exchange));
  const queues = new Set(topology.queues.map((q) => q.name));
  const classesOf = new Map<string, string[]>();
  for (const [cls, queue] of Object.entries(topology.priorityClasses)) {
    classesOf.set(queue, [...(classesOf.get(queue) ?? []), cls]);
  }
  const typeOf = (name: string): ExchangeType | undefined => exchanges.get(name)?.type ?? BUILTIN_EXCHANGES.get(name);

  const nodes = new Map<string, Node>();
  const add = (kind: NodeKind, name: string, label: string): void => {
    const key = `${kind}\u0000${name}`;
    if (!nodes.has(key)) nodes.set(key, { kind, name, label });
  };
  for (const e of topology.exchanges) {
    add('exchange', e.name, `${e.name} (${e.type}${broadcasts.has(e.name) ? ', broadcast' : ''})`);
  }
  for (const q of topology.queues) {
    const classes = classesOf.get(q.name);
    add('queue', q.name, classes ? `${q.name} [${classes.sort(compareStrings).join(', ')}]` : q.name);
  }
  for (const t of topology.tasks)
    add('task', t.name, t.priority === undefined ? t.name : `${t.name} (priority ${t.priority})`);

  const edges: Edge[] = [];
  const ex = (name: string) => ({ kind: 'exchange' as const, name });
  const qu = (name: string) => ({ kind: 'queue' as const, name });
  const exchangeRef = (name: string): void => add('exchange', name, `${name} (${typeOf(name) ?? '?'})`);
  const queueRef = (name: string): void => add('queue', name, name);

  for (const b of topology.bindings) {
    exchangeRef(b.source);
    const to = b.destinationType === 'queue' ? qu(b.destination) : ex(b.destination);
    if (b.destinationType === 'queue') queueRef(b.destination);
    else exchangeRef(b.destination);
    edges.push({ from: ex(b.source), to, label: bindingLabel(b, typeOf(b.source)), dashed: false });
  }
  for (const e of topology.exchanges) {
    if (e.alternateExchange === undefined) continue;
    exchangeRef(e.alternateExchange);
    edges.push({ from: ex(e.name), to: ex(e.alternateExchange), label: 'alternate', dashed: true });
  }
  for (const q of topology.queues) {
    const dl = q.deadLetter;
    if (dl === undefined) continue;
    const label = dl.routingKey === undefined ? 'dead-letter' : `dead-letter: ${dl.routingKey}`;
    // Dead-lettering to the default exchange goes straight to the queue the key names.
    if (dl.exchange === '') {
      if (dl.routingKey !== undefined && queues.has(dl.routingKey)) {
        edges.push({ from: qu(q.name), to: qu(dl.routingKey), label, dashed: true });
      }
      continue;
    }
    exchangeRef(dl.exchange);
    edges.push({ from: qu(q.name), to: ex(dl.exchange), label, dashed: true });
  }
  for (const t of topology.tasks) {
    const from = { kind: 'task' as const, name: t.name };
    if (t.route !== undefined) {
      if (t.route.exchange === '') {
        queueRef(t.route.routingKey);
        edges.push({ from, to: qu(t.route.routingKey), label: 'default exchange', dashed: false });
      } else {
        exchangeRef(t.route.exchange);
        edges.push({ from, to: ex(t.route.exchange), label: t.route.routingKey, dashed: false });
      }
    }
    const classQueue = t.priorityClass === undefined ? undefined : topology.priorityClasses[t.priorityClass];
    if (classQueue !== undefined) {
      queueRef(classQueue);
      edges.push({ from, to: qu(classQueue), label: `priority: ${t.priorityClass}`, dashed: true });
    }
  }
  policyEdges(topology, add, edges);
  return { nodes: [...nodes.values()], edges };
}

/** A policy's node name: unique across kinds and vhosts. */
function policyName(p: PolicySpec): string {
  return `${p.operator ? 'operator ' : ''}${p.vhost ?? ''}/${p.name}`;
}

/**
 * Policy nodes, and an edge from the policy (and operator policy) that applies to each declared
 * queue. The file does not say which vhost its queues are in, so each vhost's policies are matched
 * against them apart; a policy whose pattern does not compile (the rules report it) is left out.
 */
function policyEdges(
  topology: DesiredTopology,
  add: (kind: NodeKind, name: string, label: string) => void,
  edges: Edge[],
): void {
  const valid = (topology.broker?.policies ?? []).filter((p) => {
    try {
      new RegExp(p.pattern, 'u');
      return true;
    } catch {
      return false;
    }
  });
  const groups = new Map<string, PolicySpec[]>();
  for (const p of valid) {
    const group = `${p.operator ? 'o' : 'u'}\u0000${p.vhost ?? ''}`;
    groups.set(group, [...(groups.get(group) ?? []), p]);
  }
  for (const p of valid) {
    const keys = Object.keys(p.definition).sort(compareStrings).join(', ');
    const where = p.vhost === undefined ? '' : ` @${p.vhost}`;
    add('policy', policyName(p), `${p.operator ? 'operator policy' : 'policy'} ${p.name}${where}: ${keys}`);
  }
  for (const policies of groups.values()) {
    for (const q of topology.queues) {
      const applied = applicablePolicy(q, policies);
      if (applied === undefined) continue;
      const from = { kind: 'policy' as const, name: policyName(applied) };
      edges.push({ from, to: { kind: 'queue', name: q.name }, label: '', dashed: true });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mermaid

const MERMAID_PREFIX: Record<NodeKind, string> = { exchange: 'ex_', queue: 'q_', task: 't_', policy: 'p_' };

/**
 * A Mermaid node id: letters and digits kept, every other character (`_` included) written as
 * `_<hex code point>_`. Injective, so `a.b` and `a-b` never share a node, and the kind prefix keeps
 * ids off Mermaid keywords such as `end`.
 */
function mermaidId(kind: NodeKind, name: string): string {
  let id = MERMAID_PREFIX[kind];
  for (const char of name) {
    id += /^[A-Za-z0-9]$/.test(char) ? char : `_${(char.codePointAt(0) as number).toString(16)}_`;
  }
  return id;
}

/**
 * Quoted Mermaid text. Mermaid decodes `#<decimal>;` entities inside labels, so characters that
 * would end the quote, start an entity, or be read as HTML or Markdown are written that way.
 */
function mermaidText(text: string): string {
  const escaped = text.replace(/\r?\n/g, ' ').replace(/["#<>&`|]/g, (c) => `#${c.codePointAt(0)};`);
  return `"${escaped}"`;
}

const MERMAID_SHAPE: Record<NodeKind, (label: string) => string> = {
  exchange: (label) => `(${label})`,
  queue: (label) => `[${label}]`,
  task: (label) => `{{${label}}}`,
  policy: (label) => `[/${label}/]`,
};

/**
 * A Mermaid `flowchart LR` of the topology: exchanges as rounded nodes labelled `name (type)`,
 * queues as rectangles, tasks as hexagons; solid edges for bindings and task routes (labelled
 * with the routing key or headers match), dashed ones for dead-lettering, alternate exchanges,
 * priority classes and policies (parallelograms) to the queues they apply to.
 */
export function toMermaid(topology: DesiredTopology): string {
  const { nodes, edges } = buildGraph(topology);
  const lines = ['flowchart LR'];
  for (const n of nodes) lines.push(`  ${mermaidId(n.kind, n.name)}${MERMAID_SHAPE[n.kind](mermaidText(n.label))}`);
  for (const e of edges) {
    const arrow = e.dashed ? '-.->' : '-->';
    const label = e.label === '' ? '' : `|${mermaidText(e.label)}|`;
    lines.push(`  ${mermaidId(e.from.kind, e.from.name)} ${arrow}${label} ${mermaidId(e.to.kind, e.to.name)}`);
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Graphviz

/** A DOT quoted string: backslashes and quotes escaped, line breaks as `\n`. */
function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

const DOT_SHAPE: Record<NodeKind, string> = {
  exchange: 'shape=box, style=rounded',
  queue: 'shape=box',
  task: 'shape=hexagon',
  policy: 'shape=note',
};

/** The Graphviz `digraph` equivalent of {@link toMermaid}; node ids are `kind:name`, quoted. */
export function toDot(topology: DesiredTopology): string {
  const { nodes, edges } = buildGraph(topology);
  const lines = ['digraph topology {', '  rankdir=LR;'];
  for (const n of nodes)
    lines.push(`  ${dotString(`${n.kind}:${n.name}`)} [label=${dotString(n.label)}, ${DOT_SHAPE[n.kind]}];`);
  for (const e of edges) {
    const attributes = [
      ...(e.label === '' ? [] : [`label=${dotString(e.label)}`]),
      ...(e.dashed ? ['style=dashed'] : []),
    ];
    const suffix = attributes.length === 0 ? '' : ` [${attributes.join(', ')}]`;
    lines.push(
      `  ${dotString(`${e.from.kind}:${e.from.name}`)} -> ${dotString(`${e.to.kind}:${e.to.name}`)}${suffix};`,
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

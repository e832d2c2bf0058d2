// The topology graph (the nodes and edges `wakame graph` renders) laid out in columns and drawn as SVG.
// Columns follow the flow: a node sits one column right of the furthest node that points at it, so tasks come
// first, then exchanges, then queues; dead-letter edges that point back are drawn as arcs below.
import { svg } from './charts.js';

const NODE_HEIGHT = 34;
const ROW_GAP = 14;
const COLUMN_GAP = 90;
const CHAR_WIDTH = 7;

const keyOf = (ref) => `${ref.kind}\u0000${ref.name}`;

/** Columns by longest path; cycles (dead-letter loops) are cut by giving up after as many passes as nodes. */
function ranks(nodes, edges) {
  const rank = new Map(nodes.map((n) => [keyOf(n), 0]));
  for (let pass = 0; pass < nodes.length; pass++) {
    let moved = false;
    for (const e of edges) {
      if (e.dashed) continue; // Routing edges decide the columns; dashed ones may loop.
      const next = (rank.get(keyOf(e.from)) ?? 0) + 1;
      if (next > (rank.get(keyOf(e.to)) ?? 0)) {
        rank.set(keyOf(e.to), next);
        moved = true;
      }
    }
    if (!moved) break;
  }
  return rank;
}

/**
 * Draws the graph into `container`; returns a function that writes queue depths (a Map of name → ready count) onto
 * the queue nodes.
 */
export function drawGraph(container, graph, deadLetterQueues) {
  container.replaceChildren();
  const rank = ranks(graph.nodes, graph.edges);
  const columns = [];
  for (const node of graph.nodes) {
    const r = rank.get(keyOf(node)) ?? 0;
    if (!columns[r]) columns[r] = [];
    columns[r].push(node);
  }
  // Within a column, nodes follow the order of what points at them, which keeps most edges from crossing.
  const position = new Map();
  const boxes = new Map();
  let x = 10;
  for (const column of columns.filter(Boolean)) {
    const order = (n) => {
      const from = graph.edges.filter((e) => keyOf(e.to) === keyOf(n)).map((e) => position.get(keyOf(e.from)));
      const known = from.filter((p) => p !== undefined);
      return known.length ? known.reduce((a, b) => a + b, 0) / known.length : Number.MAX_SAFE_INTEGER;
    };
    column.sort((a, b) => order(a) - order(b));
    const width = Math.max(...column.map((n) => n.label.length * CHAR_WIDTH + (n.kind === 'queue' ? 70 : 24)));
    column.forEach((node, i) => {
      position.set(keyOf(node), i);
      boxes.set(keyOf(node), { x, y: 10 + i * (NODE_HEIGHT + ROW_GAP), width, node });
    });
    x += width + COLUMN_GAP;
  }
  const rows = Math.max(1, ...columns.filter(Boolean).map((c) => c.length));
  const height = 10 + rows * (NODE_HEIGHT + ROW_GAP) + 40;
  const root = svg('svg', { width: x, height, role: 'img', 'aria-label': 'topology graph' });
  const defs = svg('defs');
  const marker = svg('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse',
  });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8a94a3' }));
  defs.append(marker);
  root.append(defs);

  for (const edge of graph.edges) {
    const a = boxes.get(keyOf(edge.from));
    const b = boxes.get(keyOf(edge.to));
    if (!a || !b) continue;
    const y1 = a.y + NODE_HEIGHT / 2;
    const y2 = b.y + NODE_HEIGHT / 2;
    let d;
    let mid;
    if (b.x > a.x) {
      const x1 = a.x + a.width;
      const x2 = b.x;
      d = `M${x1},${y1} C${x1 + 40},${y1} ${x2 - 40},${y2} ${x2},${y2}`;
      // The curve's midpoint: edges fanning out of (or into) one node have theirs at different heights.
      mid = { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 3 };
    } else {
      // Backwards (a dead letter returning to an earlier column): an arc under both nodes.
      const low = Math.max(a.y, b.y) + NODE_HEIGHT + ROW_GAP + 10;
      const x1 = a.x + a.width / 2;
      const x2 = b.x + b.width / 2;
      d = `M${x1},${a.y + NODE_HEIGHT} C${x1},${low} ${x2},${low} ${x2},${b.y + NODE_HEIGHT}`;
      mid = { x: (x1 + x2) / 2, y: low - 8 };
    }
    root.append(svg('path', { d, class: edge.dashed ? 'dashed' : '', 'marker-end': 'url(#arrow)' }));
    if (edge.label) {
      const text = svg('text', { x: mid.x, y: mid.y, 'text-anchor': 'middle', class: 'edge-label' });
      text.textContent = edge.label;
      root.append(text);
    }
  }

  const depthLabels = new Map();
  for (const { x: bx, y, width, node } of boxes.values()) {
    const dead = node.kind === 'queue' && deadLetterQueues.has(node.name);
    const group = svg('g', {
      class: `node ${node.kind}${dead ? ' dead-letter' : ''}`,
      'data-node': `${node.kind}:${node.name}`,
    });
    const rx = node.kind === 'exchange' ? 14 : node.kind === 'task' ? 2 : 4;
    group.append(svg('rect', { x: bx, y, width, height: NODE_HEIGHT, rx }));
    const text = svg('text', { x: bx + 10, y: y + NODE_HEIGHT / 2 + 4 });
    text.textContent = node.label;
    group.append(text);
    if (node.kind === 'queue') {
      const depth = svg('text', {
        x: bx + width - 10,
        y: y + NODE_HEIGHT / 2 + 4,
        'text-anchor': 'end',
        class: 'depth',
      });
      depth.textContent = '–';
      group.append(depth);
      depthLabels.set(node.name, depth);
    }
    root.append(group);
  }
  container.append(root);
  return (depths) => {
    for (const [name, label] of depthLabels) {
      const ready = depths.get(name);
      label.textContent = ready === undefined ? '–' : String(ready);
    }
  };
}

// Small charts drawn as inline SVG: no chart library, nothing to build.
const SVG = 'http://www.w3.org/2000/svg';

/** Creates an SVG element with attributes. */
export function svg(name, attributes = {}) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

/** A sparkline of `values` (oldest first), scaled to its own maximum so that a small queue's movement shows too. */
export function sparkline(values, width = 140, height = 26) {
  const root = svg('svg', { width, height, class: 'spark', viewBox: `0 0 ${width} ${height}`, role: 'img' });
  const max = Math.max(1, ...values);
  const label =
    values.length === 0 ? 'no samples yet' : `from ${values[0]} to ${values[values.length - 1]}, peak ${max}`;
  root.append(Object.assign(svg('title'), { textContent: label }));
  if (values.length < 2) return root;
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`);
  root.append(svg('polygon', { points: `0,${height} ${points.join(' ')} ${width},${height}` }));
  root.append(svg('polyline', { points: points.join(' ') }));
  return root;
}

/** A horizontal bar: `value` of `max`. */
export function bar(value, max) {
  const outer = document.createElement('div');
  outer.className = 'bar';
  const inner = document.createElement('div');
  inner.style.width = `${max > 0 ? Math.max(value > 0 ? 2 : 0, (value / max) * 100) : 0}%`;
  outer.append(inner);
  return outer;
}

/** Bars of named counts (the plan's changes by kind). */
export function countBars(counts) {
  const entries = Object.entries(counts).filter(([, n]) => n > 0);
  const root = document.createElement('div');
  const max = Math.max(1, ...entries.map(([, n]) => n));
  for (const [name, n] of entries) {
    const row = document.createElement('div');
    row.style.display = 'grid';
    row.style.gridTemplateColumns = '8rem 3rem 1fr';
    row.style.alignItems = 'center';
    const label = Object.assign(document.createElement('span'), { textContent: name });
    const count = Object.assign(document.createElement('span'), { textContent: String(n) });
    row.append(label, count, bar(n, max));
    root.append(row);
  }
  return root;
}

// The dashboard page: reads /api/state once, then redraws on every `snapshot` event from /api/events.
// Everything is built with DOM calls and textContent: names from the broker are never parsed as HTML.
import { actionButtons } from './actions.js';
import { bar, countBars, sparkline } from './charts.js';
import { drawGraph } from './graph.js';

let settings = { allowActions: false, replay: false };
let showDepths = () => {};

function element(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function formatRate(rate) {
  if (rate === null || rate === undefined) return '–';
  const rounded = Math.abs(rate) < 10 ? rate.toFixed(1) : rate.toFixed(0);
  return `${rate > 0 ? '+' : ''}${rounded}/s`;
}

function renderQueues(snapshot) {
  const body = document.querySelector('#queues tbody');
  const max = Math.max(1, ...snapshot.queues.map((q) => q.ready));
  body.replaceChildren(
    ...snapshot.queues.map((q) => {
      const row = element('tr', undefined, q.deadLetter ? 'dead-letter' : '');
      row.dataset.queue = q.name;
      const depth = element('td', String(q.ready), 'num depth');
      const rate = element('td', formatRate(q.rate), `num ${q.rate > 0 ? 'rate-up' : q.rate < 0 ? 'rate-down' : ''}`);
      const cells = [element('td', q.name), depth, element('td'), element('td'), rate];
      cells[2].append(bar(q.ready, max));
      cells[3].append(sparkline(q.history));
      cells.push(element('td', q.consumers === null ? '?' : String(q.consumers), 'num consumers'));
      const actions = element('td');
      actions.append(...actionButtons(settings, q));
      cells.push(actions);
      row.append(...cells);
      return row;
    }),
  );
  if (snapshot.queues.length === 0) {
    const row = element('tr');
    const cell = element('td', 'No queues on this broker yet.', 'muted');
    cell.colSpan = 7;
    row.append(cell);
    body.append(row);
  }
}

/** Dead letters listed on request, by queue: kept across snapshots until hidden. */
const listed = new Map();
let lastSnapshot;

async function toggleListing(queue) {
  if (listed.has(queue)) listed.delete(queue);
  else {
    const response = await fetch(`/api/dead-letters?queue=${encodeURIComponent(queue)}`);
    const answer = await response.json();
    listed.set(queue, response.ok ? answer : { error: answer.error });
  }
  if (lastSnapshot) renderDeadLetters(lastSnapshot);
}

function deadLetterTable(list) {
  if (list.error) return element('p', `${list.error.code}: ${list.error.message}`, 'error');
  if (list.messages.length === 0) return element('p', 'No dead letters.', 'muted');
  const table = element('table', undefined, 'dead-letter-list');
  const head = element('tr');
  for (const title of ['Id', 'Task', 'Reason', 'Died in', 'When', 'Error']) head.append(element('th', title));
  table.append(head);
  for (const m of list.messages) {
    const row = element('tr');
    row.dataset.deadLetterId = m.id;
    for (const text of [m.id, m.task ?? '', m.reason, m.queue, m.deadLetteredAt ?? '', m.error?.message ?? '']) {
      row.append(element('td', text));
    }
    table.append(row);
  }
  return table;
}

/** A listing taken when the queue held another number of messages is stale: it is taken again. */
const refreshing = new Set();
function refreshStaleListings(queues) {
  for (const q of queues) {
    const list = listed.get(q.name);
    if (!list || list.error || list.total === q.ready || refreshing.has(q.name)) continue;
    refreshing.add(q.name);
    fetch(`/api/dead-letters?queue=${encodeURIComponent(q.name)}`)
      .then(async (response) => {
        if (response.ok && listed.has(q.name)) listed.set(q.name, await response.json());
      })
      .catch(() => {})
      .finally(() => refreshing.delete(q.name));
  }
}

function renderDeadLetters(snapshot) {
  lastSnapshot = snapshot;
  const queues = snapshot.queues.filter((q) => q.deadLetter);
  refreshStaleListings(queues);
  const container = document.getElementById('dead-letters');
  if (queues.length === 0) {
    container.replaceChildren(element('p', 'No dead-letter queue on this broker.', 'muted'));
    return;
  }
  const note = settings.allowActions
    ? 'Replay puts each dead letter back on the queue it died in, and removes it here once the broker has the copy.'
    : 'Read-only: start with --allow-actions to replay or purge.';
  const blocks = queues.flatMap((q) => {
    const line = element('p');
    line.dataset.deadLetterQueue = q.name;
    line.append(element('strong', q.name), ' — ', element('span', String(q.ready), 'depth'), ' message(s) ');
    const show = element('button', listed.has(q.name) ? 'Hide' : 'Show');
    show.type = 'button';
    show.dataset.action = `list-${q.name}`;
    show.addEventListener('click', () => {
      toggleListing(q.name).catch(() => {});
    });
    line.append(show, ' ', ...actionButtons(settings, q));
    return listed.has(q.name) ? [line, deadLetterTable(listed.get(q.name))] : [line];
  });
  container.replaceChildren(...blocks, element('p', note, 'muted'));
}

function renderWorkers(snapshot) {
  const container = document.getElementById('workers');
  if (snapshot.workers.length === 0) {
    container.replaceChildren(
      element('p', 'No workers named: start with --worker http://host:port (a worker’s --health-port).', 'muted'),
    );
    return;
  }
  container.replaceChildren(
    ...snapshot.workers.map((w) => {
      const card = element('div', undefined, 'card');
      card.dataset.worker = w.url;
      const title = element('div');
      title.append(element('span', undefined, `dot ${w.state}`), element('strong', w.state), ` ${w.url}`);
      card.append(title);
      if (w.status) card.append(element('div', `status ${w.status}, ${w.inFlight ?? 0} in flight`, 'muted'));
      for (const q of w.queues ?? []) {
        card.append(
          element(
            'div',
            `${q.queue}: ${q.subscribed === false ? 'not subscribed' : 'subscribed'}${q.inFlight === undefined ? '' : `, ${q.inFlight} in flight`}`,
          ),
        );
      }
      if (w.error) card.append(element('div', w.error, 'muted'));
      return card;
    }),
  );
}

function renderSnapshot(snapshot) {
  document.getElementById('broker').textContent = snapshot.url;
  const problem = document.getElementById('broker-error');
  problem.hidden = !snapshot.error;
  problem.textContent = snapshot.error ? `${snapshot.error.code}: ${snapshot.error.message}` : '';
  document.getElementById('listing-note').hidden = snapshot.listing !== 'topology';
  const live = document.getElementById('live');
  live.dataset.state = snapshot.error ? 'error' : 'live';
  live.dataset.at = String(snapshot.at);
  live.textContent = `${snapshot.error ? 'broker unreachable' : 'live'} · ${new Date(snapshot.at).toLocaleTimeString()}`;
  renderQueues(snapshot);
  renderDeadLetters(snapshot);
  renderWorkers(snapshot);
  showDepths(new Map(snapshot.queues.map((q) => [q.name, q.ready])));
}

function renderPlan(result) {
  const chart = document.getElementById('plan-chart');
  const text = document.getElementById('plan');
  if (!result) {
    chart.replaceChildren();
    text.textContent = 'No topology file: start with wakame ui topology.yaml to see its plan.';
    return;
  }
  if (result.error) {
    chart.replaceChildren();
    text.textContent = `${result.error.code}: ${result.error.message}`;
    return;
  }
  chart.replaceChildren(countBars(result.plan.counts ?? {}));
  const lines = result.plan.lines ?? [];
  text.replaceChildren(
    ...lines.map((line) => {
      const sign = line.trimStart()[0];
      const kind = sign === '+' ? 'add' : sign === '~' || sign === '»' ? 'change' : sign === '-' ? 'remove' : '';
      return element('span', `${line}\n`, kind);
    }),
  );
  text.dataset.noChanges = String(result.plan.noChanges);
}

async function start() {
  const state = await (await fetch('/api/state')).json();
  settings = state.settings;
  const mode = document.getElementById('mode');
  mode.textContent = settings.allowActions ? 'actions enabled' : 'read-only';
  mode.classList.toggle('actions', settings.allowActions);
  if (state.graph) {
    document.getElementById('topology-file').textContent = state.settings.topologyFile;
    const dead = new Set(state.snapshot.queues.filter((q) => q.deadLetter).map((q) => q.name));
    showDepths = drawGraph(document.getElementById('graph'), state.graph, dead);
  }
  renderSnapshot(state.snapshot);
  renderPlan(state.plan);
  document.getElementById('replan').addEventListener('click', async () => {
    renderPlan(await (await fetch('/api/plan?refresh=1')).json());
  });
  const events = new EventSource('/api/events');
  events.addEventListener('snapshot', (event) => renderSnapshot(JSON.parse(event.data)));
  events.addEventListener('error', () => {
    const live = document.getElementById('live');
    live.dataset.state = 'lost';
    live.textContent = 'reconnecting…';
  });
  document.body.dataset.ready = 'true';
}

start().catch((error) => {
  const problem = document.getElementById('broker-error');
  problem.hidden = false;
  problem.textContent = `The dashboard could not start: ${error.message}`;
});

/**
 * Measures RabbitMQ failover under load on the private cluster and prints a table: for each scenario, how many
 * confirmed messages were lost, delivered twice, refused, for how long publishing was refused, and how long the
 * publisher took to reconnect.
 *
 *   pnpm tsx --conditions=@wakame/source scripts/clusters/measure-failover.ts [--total N] [--rate R] [--only TEXT] [--json]
 *
 * Starts the cluster (scripts/clusters/rabbitmq-cluster.sh) when it is not running, and stops it afterwards in that
 * case; a cluster that was already running is used and left running. Exit code 1 when a scenario lost a confirmed
 * message.
 */
import { parseArgs } from 'node:util';
import {
  type FailoverResult,
  type FailoverScenario,
  failoverTable,
  runClusterScript,
  runFailoverScenario,
} from '@wakame/testkit';

const SCENARIOS: readonly FailoverScenario[] = [
  { label: 'classic, queue elsewhere, stop_app', queueType: 'classic', target: 'other-node', fault: 'stop' },
  { label: 'classic, queue elsewhere, kill -9', queueType: 'classic', target: 'other-node', fault: 'kill' },
  { label: 'classic, queue on broken node, stop_app', queueType: 'classic', target: 'queue-node', fault: 'stop' },
  { label: 'classic, queue on broken node, kill -9', queueType: 'classic', target: 'queue-node', fault: 'kill' },
  { label: 'quorum, leader stop_app', queueType: 'quorum', target: 'queue-node', fault: 'stop' },
  { label: 'quorum, leader kill -9', queueType: 'quorum', target: 'queue-node', fault: 'kill' },
];

const { values } = parseArgs({
  options: {
    total: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '1000' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

function positive(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${what} takes a positive integer, got '${text}'`);
  return n;
}

const total = positive(values.total, 'total');
const rate = positive(values.rate, 'rate');
const chosen = SCENARIOS.filter((s) => values.only === undefined || s.label.includes(values.only));
if (chosen.length === 0) throw new Error(`--only '${values.only}' matches no scenario`);

const say = (line: string) => process.stderr.write(`[measure-failover] ${line}\n`);
const wasRunning = await runClusterScript('rabbitmq-cluster.sh', ['status'], 120_000).then(
  () => true,
  () => false,
);
if (!wasRunning) {
  say('starting the private RabbitMQ cluster (wkt1..wkt3, AMQP 5691-5693)');
  await runClusterScript('rabbitmq-cluster.sh', ['start']);
}

const results: FailoverResult[] = [];
try {
  for (const scenario of chosen) {
    say(`${scenario.label}: ${total} messages at ${rate}/s`);
    results.push(await runFailoverScenario({ ...scenario, total, ratePerSecond: rate }));
  }
} finally {
  if (!wasRunning) await runClusterScript('rabbitmq-cluster.sh', ['stop']);
}

process.stdout.write(`${failoverTable(results)}\n`);
if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
process.exitCode = results.some((r) => r.lost > 0) ? 1 : 0;

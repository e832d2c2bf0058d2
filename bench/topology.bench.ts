/**
 * Topology as code at scale: validate + compile + diff of a generated 10,000-entity topology
 * (YAML text through the whole pipeline), and apply of 1,000 queues with bindings to a fresh
 * RabbitMQ vhost followed by the no-op re-apply.
 */
import { randomUUID } from 'node:crypto';
import {
  applyPlan,
  Connection,
  checkRules,
  compileTopology,
  diff,
  observe,
  parseTopologyText,
  validateSchema,
} from '@wakame/core';
import { createVhost, deleteVhost } from '@wakame/testkit';
import { type Benchmark, type Figure, now } from './harness.js';

/** `exchanges` topic exchanges, each with `perExchange` queues bound to it: 1 + 2 entities per queue. */
function generate(exchanges: number, perExchange: number): string {
  const lines = ['version: 1', 'exchanges:'];
  for (let e = 0; e < exchanges; e++) lines.push(`  - { name: ex${e}, type: topic }`);
  lines.push('queues:');
  for (let e = 0; e < exchanges; e++) {
    for (let q = 0; q < perExchange; q++) {
      lines.push(
        `  - name: q${e}.${q}`,
        '    maxPriority: 5',
        `    bindings: [{ exchange: ex${e}, routingKey: 'jobs.${q}.#' }]`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export const topologyBenchmarks: readonly Benchmark[] = [
  {
    name: 'topology.pipeline',
    async run(): Promise<Figure[]> {
      // 100 exchanges × 50 queues: 100 + 5,000 queues + 5,000 bindings = 10,100 entities.
      const text = generate(100, 50);
      const connection = await Connection.open(`memory://bench-${randomUUID()}`);
      try {
        const start = now();
        const parsed = parseTopologyText(text, 'generated.yaml');
        if (!parsed.topology) throw new Error('generated topology did not parse');
        const schemaIssues = validateSchema(parsed.topology);
        const ruleIssues = checkRules(parsed.topology.document).filter((i) => i.severity !== 'warning');
        if (schemaIssues.length + ruleIssues.length > 0) throw new Error('generated topology is invalid');
        const desired = compileTopology(parsed.topology.document);
        const plan = diff(desired, await observe(connection.admin, desired));
        const ms = now() - start;
        const entities = desired.exchanges.length + desired.queues.length + desired.bindings.length;
        return [
          {
            name: 'topology.validate-compile-diff',
            value: ms,
            unit: 'ms',
            note: `${entities} entities from YAML text, ${plan.changes.length} changes planned (target < 1000 ms)`,
          },
        ];
      } finally {
        await connection.close();
      }
    },
  },
  {
    name: 'topology.apply',
    async run(): Promise<Figure[]> {
      const vhost = `wakame-bench-${randomUUID()}`;
      const url = await createVhost(vhost);
      const connection = await Connection.open(url);
      try {
        const parsed = parseTopologyText(generate(10, 100), 'generated.yaml');
        if (!parsed.topology) throw new Error('generated topology did not parse');
        const desired = compileTopology(parsed.topology.document);
        let start = now();
        await applyPlan(diff(desired, await observe(connection.admin, desired)), connection.admin, { concurrency: 32 });
        const first = now() - start;
        start = now();
        const again = diff(desired, await observe(connection.admin, desired));
        await applyPlan(again, connection.admin);
        const noop = now() - start;
        if (!again.noChanges) throw new Error('re-apply found changes');
        return [
          {
            name: 'topology.apply-1000-queues',
            value: first,
            unit: 'ms',
            note: '10 exchanges, 1,000 queues, 1,000 bindings, fresh vhost',
          },
          {
            name: 'topology.reapply-no-op',
            value: noop,
            unit: 'ms',
            note: 'plan (management API listing) + apply with nothing to do',
          },
        ];
      } finally {
        await connection.close();
        await deleteVhost(vhost);
      }
    },
  },
];

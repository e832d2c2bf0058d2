/**
 * Child process of the topology benchmark: `topology-pipeline.ts <exchanges> <perExchange> <rounds>`
 * runs validate + compile + plan of the generated topology `rounds` times and prints one JSON line:
 * each round's milliseconds, the entity and change counts, the RSS before generating and the peak RSS.
 * A process of its own, so its peak RSS is the pipeline's and nothing else's.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  Connection,
  checkRules,
  compileTopology,
  diff,
  observe,
  parseTopologyText,
  validateSchema,
} from '@wakame/core';

/** `exchanges` topic exchanges, each with `perExchange` queues bound to it: 1 + 2 entities per queue. */
export function generateTopology(exchanges: number, perExchange: number): string {
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

export interface PipelineResult {
  readonly ms: number[];
  readonly entities: number;
  readonly changes: number;
  readonly baselineRssMb: number;
  readonly peakRssMb: number;
}

async function main(): Promise<void> {
  const [exchanges, perExchange, rounds] = process.argv.slice(2).map(Number) as [number, number, number];
  const baselineRssMb = process.memoryUsage().rss / 2 ** 20;
  const text = generateTopology(exchanges, perExchange);
  const ms: number[] = [];
  let entities = 0;
  let changes = 0;
  for (let round = 0; round < rounds; round++) {
    // An empty memory broker each round: every entity is planned as a creation.
    const connection = await Connection.open(`memory://bench-${randomUUID()}`);
    try {
      const start = performance.now();
      const parsed = parseTopologyText(text, 'generated.yaml');
      if (!parsed.topology) throw new Error('generated topology did not parse');
      const schemaIssues = validateSchema(parsed.topology);
      // Compiled once and handed to the rules, as checkTopology (what `wakame plan` runs) does.
      const desired = compileTopology(parsed.topology.document);
      const ruleIssues = checkRules(parsed.topology.document, {}, desired).filter((i) => i.severity !== 'warning');
      if (schemaIssues.length + ruleIssues.length > 0) throw new Error('generated topology is invalid');
      const plan = diff(desired, await observe(connection.admin, desired));
      ms.push(performance.now() - start);
      entities = desired.exchanges.length + desired.queues.length + desired.bindings.length;
      changes = plan.changes.length;
    } finally {
      await connection.close();
    }
  }
  const result: PipelineResult = {
    ms,
    entities,
    changes,
    baselineRssMb,
    // maxRSS is in KiB.
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

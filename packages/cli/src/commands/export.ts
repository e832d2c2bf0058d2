/**
 * `wakame export`: the broker's live topology as a YAML topology file that, planned again,
 * shows no changes.
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { exportTopology, InvalidOperationError, toYaml } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { type BrokerOptions, openBroker } from '../topology-input.js';

export interface ExportOptions extends BrokerOptions {
  readonly output?: string;
}

export async function exportCommand(ctx: CommandContext, options: ExportOptions): Promise<void> {
  const connection = await openBroker(ctx, options);
  try {
    const observed = await connection.admin.inspect();
    if (!observed.complete) {
      throw new InvalidOperationError(
        `cannot list the topology of ${connection.url}: the management API did not answer (give its address with --management-url)`,
      );
    }
    const document = exportTopology(observed);
    if (ctx.jsonMode) {
      ctx.json(document);
      return;
    }
    const yaml = toYaml(document);
    if (options.output) {
      await writeFile(resolve(ctx.cwd, options.output), yaml);
      if (!ctx.quiet) ctx.err(`wrote ${options.output}`);
    } else {
      ctx.out(yaml.trimEnd());
    }
  } finally {
    await connection.close();
  }
}

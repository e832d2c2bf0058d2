/**
 * `wakame graph <file>`: exchanges → bindings → queues → tasks as Mermaid (default) or Graphviz DOT.
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidArgumentError, toDot, toMermaid } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { readTopology } from '../topology-input.js';

export interface GraphOptions {
  readonly format?: string;
  readonly output?: string;
}

export async function graph(ctx: CommandContext, file: string, options: GraphOptions): Promise<void> {
  const format = options.format ?? 'mermaid';
  if (format !== 'mermaid' && format !== 'dot') {
    throw new InvalidArgumentError(`--format must be 'mermaid' or 'dot', got '${format}'`);
  }
  const { desired } = await readTopology(ctx, file);
  const text = format === 'mermaid' ? toMermaid(desired) : toDot(desired);
  if (options.output) {
    await writeFile(resolve(ctx.cwd, options.output), `${text.trimEnd()}\n`);
    if (!ctx.quiet) ctx.err(`wrote ${options.output}`);
  } else if (ctx.jsonMode) {
    ctx.json({ format, graph: text });
  } else {
    ctx.out(text.trimEnd());
  }
}

/**
 * `wakame types <file>`: the topology's task payload types as TypeScript, for projects whose topology
 * is YAML (a `defineTopology` value gets the same types without a file, through `FromSchema`).
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { generateTaskTypes } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { readTopology } from '../topology-input.js';

export interface TypesOptions {
  readonly output?: string;
}

/** Generates the types; writes them to `--output` (resolved against the working directory) or prints them. */
export async function types(ctx: CommandContext, file: string, options: TypesOptions): Promise<void> {
  const { desired } = await readTopology(ctx, file);
  const input = resolve(ctx.cwd, file);
  const output = options.output === undefined ? undefined : resolve(ctx.cwd, options.output);
  // The header names the topology relative to the generated file (or the working directory), never as an
  // absolute path, so the file is the same on every machine and can be committed.
  const source = portable(relative(output === undefined ? ctx.cwd : dirname(output), input));
  const text = generateTaskTypes(desired, { source });
  const tasks = desired.tasks.map((task) => task.name);
  if (output !== undefined) {
    await writeFile(output, text);
    if (ctx.jsonMode) ctx.json({ file, output: options.output, tasks });
    else if (!ctx.quiet) ctx.err(`wrote ${options.output} (${tasks.length} task${tasks.length === 1 ? '' : 's'})`);
  } else if (ctx.jsonMode) {
    ctx.json({ file, tasks, typescript: text });
  } else {
    ctx.out(text.trimEnd());
  }
}

/** `/` separators whatever the platform, for a header that does not change between Windows and Unix. */
function portable(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

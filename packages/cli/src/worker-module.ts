/**
 * Loading a worker module for `wakame worker ./worker.ts`: its default export says which topology
 * and which handlers, plus optional settings the command line can override.
 *
 * ```ts
 * export default { topology: './topology.yaml', handlers: { 'report.generate': async ({ reportId }) => … } };
 * ```
 *
 * @module
 */
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  compileDocument,
  type DesiredTopology,
  InvalidArgumentError,
  type SchedulerOptions,
  type TaskHandler,
  type TopologyDocument,
  TopologyValidationError,
} from '@wakame/core';
import type { CommandContext } from './context.js';
import { check, loadTypeScript } from './topology-input.js';

/** What a worker module exports (as `default`). */
export interface WorkerModule {
  /** A `defineTopology(...)` value, or the path of a topology file relative to the module. */
  readonly topology: TopologyDocument | string;
  readonly handlers: Readonly<Record<string, TaskHandler>>;
  readonly concurrency?: number;
  readonly queues?: readonly string[];
  /** The topology's schedules: the lease group and how often to try it, or `false` (this worker never sends runs). */
  readonly scheduler?: false | SchedulerOptions;
}

export async function loadWorkerModule(
  ctx: CommandContext,
  file: string,
): Promise<{ module: WorkerModule; topology: DesiredTopology }> {
  const path = resolve(ctx.cwd, file);
  if (/\.[cm]?ts$/.test(path)) await loadTypeScript();
  let namespace: { default?: unknown };
  try {
    namespace = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new InvalidArgumentError(
      `cannot load worker module ${file}: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
  const spec = namespace.default as Partial<WorkerModule> | undefined;
  if (!spec || typeof spec !== 'object' || !spec.topology || !spec.handlers) {
    throw new InvalidArgumentError(
      `${file} must export default { topology, handlers } (topology: a defineTopology(...) value or a topology file path)`,
    );
  }
  if (typeof spec.topology === 'string') {
    const checked = await check({ ...ctx, cwd: dirname(path) }, spec.topology);
    if (!checked.desired) throw new TopologyValidationError(checked.errors);
    return { module: spec as WorkerModule, topology: checked.desired };
  }
  return { module: spec as WorkerModule, topology: compileDocument(spec.topology) };
}

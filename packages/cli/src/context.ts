/**
 * The narrow window commands have on the outside world.
 *
 * @module
 */

/**
 * Everything a command may use of its process. Commands never touch `process` or `console` directly, so tests run
 * them in-process with a capturing context and `main.ts` stays the only place that writes to the terminal.
 */
export interface CommandContext {
  /** Writes one line of normal output (stdout). */
  out(text: string): void;
  /** Writes one line of diagnostics (stderr). */
  err(text: string): void;
  /** Writes `value` as JSON (stdout); the machine-readable result of a command in {@link CommandContext.jsonMode}. */
  json(value: unknown): void;
  /** `--json` was given: print one JSON document via {@link CommandContext.json} instead of text. */
  readonly jsonMode: boolean;
  /** `--quiet` was given: print only the essential result, no progress or decoration. */
  readonly quiet: boolean;
  /** Colour output (stdout is a terminal, `NO_COLOR` unset, not `--json`). */
  readonly color: boolean;
  /** Environment variables (read-only by convention). */
  readonly env: NodeJS.ProcessEnv;
  /** Working directory that relative paths given by the user are resolved against. */
  readonly cwd: string;
  /**
   * Aborts when the user asks the process to stop (SIGINT). Long-running commands (`inspect --watch`, `consume`)
   * end cleanly on it; absent when nothing can abort them.
   */
  readonly signal?: AbortSignal;
  /**
   * Asks the user a yes/no question (on a terminal). Absent when there is nobody to ask: commands that need a
   * confirmation then require an explicit flag such as `--yes`.
   */
  readonly confirm?: (question: string) => Promise<boolean>;
}

/** The global options every command accepts. */
export interface GlobalOptions {
  readonly json?: boolean;
  readonly quiet?: boolean;
}

/** The context seen by a command: the base context with the global options applied. */
export function withGlobalOptions(base: CommandContext, options: GlobalOptions): CommandContext {
  return {
    out: (text) => base.out(text),
    err: (text) => base.err(text),
    json: (value) => base.json(value),
    jsonMode: base.jsonMode || options.json === true,
    quiet: base.quiet || options.quiet === true,
    color: base.color && !(base.jsonMode || options.json === true),
    env: base.env,
    cwd: base.cwd,
    ...(base.signal ? { signal: base.signal } : {}),
    ...(base.confirm ? { confirm: base.confirm } : {}),
  };
}

/**
 * Whether `--json` is on the command line (before a `--` that ends the options). Known before commander parses
 * the line, so that a malformed line is answered in JSON too.
 */
export function jsonRequested(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--json') return true;
  }
  return false;
}

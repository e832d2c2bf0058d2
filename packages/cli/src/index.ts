/**
 * The `wakame` command line as a library: build the program around your own {@link CommandContext} to embed or
 * test it. The executable itself is `bin.js`.
 *
 * @module
 */
export { createProgram, runCli, USAGE_EXIT_CODE } from './cli.js';
export type { VersionInfo } from './commands/version.js';
export { type CommandContext, type GlobalOptions, withGlobalOptions } from './context.js';
export { type CodedError, ExitError, isCodedError } from './errors.js';

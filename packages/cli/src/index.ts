/**
 * The `wakame` command line as a library: build the program around your own {@link CommandContext} to embed or
 * test it. The executable itself is `bin.js`.
 *
 * @module
 */
export { createProgram, runCli, USAGE_EXIT_CODE } from './cli.js';
export type { VersionInfo } from './commands/version.js';
export { type CommandContext, type GlobalOptions, jsonRequested, withGlobalOptions } from './context.js';
export {
  type CodedError,
  describeFailure,
  ExitError,
  type ExitErrorOptions,
  type Failure,
  INTERNAL_ERROR_EXIT_CODE,
  isCodedError,
} from './errors.js';
export { execute, type JsonError } from './run.js';

// Mistakes of the caller: a value that can never work, an operation in the wrong state, a transport that is
// unknown or not installed. None of them goes away by retrying.

import { WakameError } from './wakame-error.js';

/** A caller passed a value that can never work (bad option, malformed name). */
export class InvalidArgumentError extends WakameError {
  override readonly name: string = 'InvalidArgumentError';
  readonly code: string = 'ERR_INVALID_ARGUMENT';
}

/** An operation was called in a state that does not allow it (iterate twice, publish after close). */
export class InvalidOperationError extends WakameError {
  override readonly name: string = 'InvalidOperationError';
  readonly code: string = 'ERR_INVALID_OPERATION';
}

/** A broker URL that cannot be parsed. The message never contains the password. */
export class InvalidUrlError extends InvalidArgumentError {
  override readonly name = 'InvalidUrlError';
  override readonly code = 'ERR_INVALID_URL';
}

/** No transport is registered for a URL scheme. */
export class UnknownTransportError extends InvalidArgumentError {
  override readonly name = 'UnknownTransportError';
  override readonly code = 'ERR_UNKNOWN_TRANSPORT';
  constructor(
    readonly scheme: string,
    readonly known: readonly string[],
  ) {
    super(`no transport for scheme '${scheme}:'; known schemes: ${known.join(', ')}`);
  }
}

/**
 * A transport is registered but its module could not be loaded (package not installed). The message ends with the
 * command that installs what is missing, for the package manager in use (`npm install @wakame/transports ioredis`,
 * `pnpm add …`, `yarn add …`, `bun add …`).
 */
export class TransportNotInstalledError extends WakameError {
  override readonly name = 'TransportNotInstalledError';
  readonly code = 'ERR_TRANSPORT_NOT_INSTALLED';
  /** The packages to install, e.g. `['@wakame/transports', 'ioredis']` for `redis:` without `@wakame/transports`. */
  readonly packages: readonly string[];
  /** The command that installs {@link TransportNotInstalledError.packages}, e.g. `npm install @wakame/transports ioredis`. */
  readonly installCommand: string;
  /** @param hint - What to install and how; the registry works it out (see `transport/install-hint.ts`). */
  constructor(
    readonly scheme: string,
    readonly moduleName: string,
    hint: { readonly packages: readonly string[]; readonly installCommand: string },
    options?: ErrorOptions,
  ) {
    super(
      `the '${scheme}' transport needs the module '${moduleName}', which could not be loaded; install it: ${hint.installCommand}`,
      options,
    );
    this.packages = hint.packages;
    this.installCommand = hint.installCommand;
  }
}

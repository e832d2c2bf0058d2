/**
 * How the CLI answers SIGINT and SIGTERM: the first stops the running command gracefully (a worker lets running
 * handlers finish), a second stops it at once, a third ends the process.
 *
 * @module
 */

/**
 * The same signal again within this many ms is the same request, delivered twice: a terminal sends Ctrl-C to the
 * whole foreground process group, and pnpm forwards it to its script once more (systemd likewise signals every
 * process of a unit). A person pressing Ctrl-C again takes longer.
 */
export const DUPLICATE_SIGNAL_MS = 300;

/** What each successive signal does. */
export interface SignalActions {
  /** The first: stop gracefully. */
  readonly stop: () => void;
  /** The second: stop at once. */
  readonly stopNow: () => void;
  /** The third: end the process. */
  readonly exit: () => void;
}

/** A listener for `process.on('SIGINT' | 'SIGTERM', …)` that counts signals, ignoring duplicates. */
export function signalHandler(
  actions: SignalActions,
  now: () => number = () => performance.now(),
): (signal: string) => void {
  let count = 0;
  let last: { readonly signal: string; readonly at: number } | undefined;
  return (signal) => {
    const at = now();
    if (last?.signal === signal && at - last.at < DUPLICATE_SIGNAL_MS) return;
    last = { signal, at };
    count++;
    if (count === 1) actions.stop();
    else if (count === 2) actions.stopNow();
    else actions.exit();
  };
}

/**
 * The CLI's answer to SIGINT/SIGTERM. Under `pnpm wakame` the node process is pnpm's direct child (the script
 * `exec`s it), so one Ctrl-C on a terminal arrives twice — from the terminal, to the whole process group, and
 * forwarded by pnpm — and must still mean "stop gracefully".
 */
import { describe, expect, it } from 'vitest';
import { DUPLICATE_SIGNAL_MS, signalHandler } from '../src/signals.js';

function handler() {
  const actions: string[] = [];
  let now = 0;
  const onSignal = signalHandler(
    { stop: () => actions.push('stop'), stopNow: () => actions.push('stop-now'), exit: () => actions.push('exit') },
    () => now,
  );
  return {
    actions,
    signal: (name: string, at: number) => {
      now = at;
      onSignal(name);
    },
  };
}

describe('signalHandler', () => {
  it('stops gracefully, then at once, then exits', () => {
    const h = handler();
    h.signal('SIGINT', 0);
    h.signal('SIGINT', 1000);
    h.signal('SIGTERM', 2000);
    expect(h.actions).toEqual(['stop', 'stop-now', 'exit']);
  });

  it('takes the same signal again within the window as the same request (terminal + pnpm)', () => {
    const h = handler();
    h.signal('SIGINT', 0);
    h.signal('SIGINT', 5);
    h.signal('SIGINT', DUPLICATE_SIGNAL_MS - 1);
    expect(h.actions).toEqual(['stop']);
    h.signal('SIGINT', 2000);
    h.signal('SIGINT', 2010); // the forwarded copy of the second Ctrl-C
    expect(h.actions).toEqual(['stop', 'stop-now']);
  });

  it('counts a different signal at once', () => {
    const h = handler();
    h.signal('SIGTERM', 0);
    h.signal('SIGINT', 1);
    expect(h.actions).toEqual(['stop', 'stop-now']);
  });
});

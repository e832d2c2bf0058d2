/**
 * Child process of the stack-lock test: takes the lock of stack `WAKAME_STACK` on `WAKAME_URL`, says
 * `locked` on stdout, and waits to be killed (it never releases the lock).
 */
import { Connection } from '@wakame/core';

const connection = await Connection.open(process.env.WAKAME_URL as string);
const stacks = connection.admin.stacks;
if (!stacks) throw new Error('no stack records on this transport');
await stacks.lock(process.env.WAKAME_STACK as string, {
  holder: {
    id: `child-${process.pid}`,
    description: `lock-holder child (pid ${process.pid})`,
    since: new Date().toISOString(),
  },
  timeoutMs: 10_000,
});
process.stdout.write('locked\n');
// Keeps the process (and its connections) alive until the test kills it.
setInterval(() => undefined, 60_000);

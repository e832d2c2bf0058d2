/**
 * A replay that crashes: it replays the dead letters of `WAKAME_DLQ` on `WAKAME_URL` and kills itself with
 * SIGKILL as soon as the first copy is confirmed, before its dead letter is acked — the worst moment for a crash.
 * It prints the id of that copy first, so the parent knows which one may now be there twice.
 */
import { writeSync } from 'node:fs';
import { Connection, replayDeadLetters } from '@wakame/core';

const connection = await Connection.open(process.env.WAKAME_URL ?? '');
await replayDeadLetters(connection, {
  queue: process.env.WAKAME_DLQ ?? '',
  onProgress: (progress) => {
    if (progress.published === undefined) return;
    // Written synchronously: the event loop must not run again (the ack is one turn away).
    writeSync(1, `published ${progress.published}\n`);
    process.kill(process.pid, 'SIGKILL');
    // Nothing more may happen in this process: block until the kill lands.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  },
});
process.stdout.write('finished without crashing\n');

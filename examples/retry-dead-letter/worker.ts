/**
 * `invoice.send` fails on its first two attempts, then succeeds, except for invoice "bad", which
 * always fails and ends in the dead-letter queue with the reason and the number of attempts.
 *
 *   wakame worker examples/retry-dead-letter/worker.ts --url … --verbose
 *   wakame send invoice.send '{"invoiceId":"ok-1"}' --topology examples/retry-dead-letter/topology.yaml --url …
 *   wakame consume jobs.failed --url … --json      # shows x-dead-letter-reason
 */
import type { TaskContext } from '@wakame/core';

export default {
  topology: './topology.yaml',
  handlers: {
    'invoice.send': async ({ invoiceId }: { invoiceId: string }, ctx: TaskContext) => {
      if (invoiceId === 'bad' || ctx.attempt < 3) {
        throw new Error(`mail server refused invoice ${invoiceId} (attempt ${ctx.attempt} of ${ctx.maxAttempts})`);
      }
      return { sent: invoiceId, attempts: ctx.attempt };
    },
  },
};

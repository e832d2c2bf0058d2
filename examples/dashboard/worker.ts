/**
 * The worker of the dashboard example: `wakame worker examples/dashboard/worker.ts --health-port 9464`.
 * A notification to a user id starting with "bad" fails; with one attempt allowed, it is dead-lettered to
 * `failed` at once, where the dashboard shows it and (with --allow-actions) replays it.
 */
interface Report {
  readonly reportId: string;
}
interface Notification {
  readonly userId: string;
  readonly text: string;
}

export default {
  topology: './topology.yaml',
  concurrency: 2,
  handlers: {
    'report.generate': async ({ reportId }: Report) => ({ reportId, pages: 12 }),
    'user.notify': async ({ userId, text }: Notification) => {
      if (userId.startsWith('bad')) throw new Error(`no such user: ${userId}`);
      return { delivered: `${userId}: ${text.slice(0, 20)}` };
    },
  },
};

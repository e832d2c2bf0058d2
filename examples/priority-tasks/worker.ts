/**
 * The worker for this example: `wakame worker examples/priority-tasks/worker.ts --url …`.
 * It consumes hipri, midpri and lopri together and always serves the highest class first.
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
    'report.generate': async ({ reportId }: Report) => {
      // A slow, low-priority job.
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { reportId, pages: 12 };
    },
    'user.notify': async ({ userId, text }: Notification) => ({ delivered: `${userId}: ${text.slice(0, 20)}` }),
  },
};

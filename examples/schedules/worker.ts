/**
 * The worker of this example: `wakame worker examples/schedules/worker.ts --url …`. Start it twice: one of the two
 * leads and sends the scheduled runs (a `schedule-leader` line), both handle them; stop the leader and the other
 * takes over within `leaseCheckMs`.
 */
interface Report {
  readonly kind: string;
}

export default {
  topology: './topology.yaml',
  concurrency: 4,
  // Workers of one group share the schedules' lease and state; a second deployment of this topology would use another.
  scheduler: { group: 'schedules-example', leaseCheckMs: 1_000 },
  handlers: {
    'report.nightly': async ({ kind }: Report) => ({ kind, rows: 42 }),
    'cache.refresh': async () => ({ refreshed: true }),
    'partner.sync': async () => ({ synced: true }),
  },
};

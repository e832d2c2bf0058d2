/**
 * Test hygiene on the shared beanstalkd: deletes every job in the tubes whose names start with one of the
 * given prefixes (each test run uses prefixes of its own), so runs leave no jobs behind in its memory.
 */
import { BeanstalkClient } from '../../src/beanstalk/client.js';

/** Deletes the ready jobs of every tube of `server` (a beanstalk:// URL) that starts with one of `prefixes`. */
export async function drainTubes(server: string, prefixes: readonly string[]): Promise<number> {
  if (prefixes.length === 0) return 0;
  const url = new URL(server);
  const client = await BeanstalkClient.connect({
    host: url.hostname,
    port: Number(url.port || 11300),
    connectTimeoutMs: 5_000,
  });
  let deleted = 0;
  try {
    for (const tube of await client.listTubes()) {
      if (!prefixes.some((prefix) => tube.startsWith(prefix))) continue;
      await client.use(tube);
      for (let job = await client.peekReady(); job; job = await client.peekReady()) {
        if (await client.delete(job.id)) deleted++;
      }
    }
  } finally {
    client.close();
  }
  return deleted;
}

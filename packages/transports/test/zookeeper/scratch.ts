/**
 * Test roots on the shared ZooKeeper: every test (or suite) works under a root znode of its own
 * (`/wakame-test/<label>-<random>`), so concurrent runs never meet, and removes it afterwards.
 */
import { randomBytes } from 'node:crypto';
import { ZOOKEEPER_URL } from '@wakame/testkit';
import zookeeper from 'node-zookeeper-client';

/** Parent of every test root. */
export const TEST_PARENT = '/wakame-test';

/** A fresh root path (without a leading slash, as a URL path), e.g. `wakame-test/conformance-1a2b3c4d`. */
export function freshRoot(label: string): string {
  return `${TEST_PARENT.slice(1)}/${label}-${randomBytes(4).toString('hex')}`;
}

/** `ZOOKEEPER_URL` with `root` as its path and `query` (e.g. `layout=kombu`). */
export function zkUrl(root: string, query = ''): string {
  const url = new URL(ZOOKEEPER_URL);
  return `zookeeper://${url.host}/${root}${query === '' ? '' : `?${query}`}`;
}

/** `host:port` of `ZOOKEEPER_URL`, for a raw client. */
export function zkHosts(): string {
  const url = new URL(ZOOKEEPER_URL);
  return `${url.hostname}:${url.port || 2181}`;
}

/** A connected raw client (close it when done). */
export function rawClient(): Promise<zookeeper.Client> {
  const client = zookeeper.createClient(zkHosts(), { sessionTimeout: 10_000 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`ZooKeeper at ${zkHosts()} did not answer`));
    }, 20_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

/** Promise form of a node-zookeeper-client call. */
export function call<T>(run: (done: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

/** Removes `path` and everything under it (missing is fine). */
export async function removeTree(client: zookeeper.Client, path: string): Promise<void> {
  let children: string[];
  try {
    children = await call<string[]>((done) => client.getChildren(path, done));
  } catch {
    return;
  }
  await Promise.all(children.map((c) => removeTree(client, `${path}/${c}`)));
  await call<void>((done) => client.remove(path, -1, (e) => done(e, undefined))).catch(() => undefined);
}

/** Removes the given roots (URL paths) with one short-lived client. */
export async function removeRoots(roots: readonly string[]): Promise<void> {
  if (roots.length === 0) return;
  const client = await rawClient();
  try {
    for (const root of roots) await removeTree(client, `/${root}`);
  } finally {
    client.close();
  }
}

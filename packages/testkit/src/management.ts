/**
 * The RabbitMQ management HTTP API for tests: a vhost of their own (so plans and listings see
 * exactly what a test made), and broker-side connection kills. Credentials come from the
 * management URL and travel in a header (fetch refuses them inside a URL).
 */
import { AMQP_URL, RABBITMQ_MANAGEMENT_URL } from './brokers.js';

const base = new URL(RABBITMQ_MANAGEMENT_URL);
const authorization = `Basic ${Buffer.from(`${decodeURIComponent(base.username || 'guest')}:${decodeURIComponent(base.password || 'guest')}`).toString('base64')}`;
base.username = '';
base.password = '';

/** The management API root without credentials, e.g. `http://127.0.0.1:15672`. */
export const MANAGEMENT_ENDPOINT = base.href.replace(/\/+$/, '');

/** Calls `/api/<path>`; a 404 is not an error (deleting what is gone is fine). Returns the parsed body, if any. */
export async function management<T = unknown>(method: string, path: string, body?: unknown): Promise<T | undefined> {
  const response = await fetch(`${MANAGEMENT_ENDPOINT}/api/${path}`, {
    method,
    headers: { authorization, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok && response.status !== 404)
    throw new Error(`management API ${method} ${path}: HTTP ${response.status}`);
  const text = await response.text();
  return text ? (JSON.parse(text) as T) : undefined;
}

/** The AMQP URL of `vhost` on the test broker. */
export function amqpUrlForVhost(vhost: string): string {
  const amqp = new URL(AMQP_URL);
  return `${amqp.protocol}//${amqp.username}:${amqp.password}@${amqp.host}/${encodeURIComponent(vhost)}`;
}

/** Creates `vhost` and gives the test user every permission on it; returns its AMQP URL. */
export async function createVhost(vhost: string): Promise<string> {
  const user = decodeURIComponent(new URL(AMQP_URL).username || 'guest');
  await management('PUT', `vhosts/${encodeURIComponent(vhost)}`);
  await management('PUT', `permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  return amqpUrlForVhost(vhost);
}

/**
 * Deletes `vhost`, and the Wakame stack records kept for it: they are global parameters, which
 * outlive the vhost.
 */
export async function deleteVhost(vhost: string): Promise<void> {
  await management('DELETE', `vhosts/${encodeURIComponent(vhost)}`);
  const parameters =
    (await management<{ name: string; value?: { vhost?: unknown } }[]>('GET', 'global-parameters')) ?? [];
  for (const p of parameters) {
    if (p.name.startsWith('wakame.stack.') && p.value?.vhost === vhost) {
      await management('DELETE', `global-parameters/${encodeURIComponent(p.name)}`);
    }
  }
}

/** Connections whose client-provided name is `name` (Wakame names them `wakame <pid>`). */
export async function connectionsNamed(name: string): Promise<string[]> {
  const list =
    (await management<{ name: string; client_properties?: { connection_name?: string } }[]>('GET', 'connections')) ??
    [];
  return list.filter((c) => c.client_properties?.connection_name === name).map((c) => c.name);
}

/** Closes the connections named `name` from the broker's side; returns how many. */
export async function killConnections(name: string, reason = 'wakame test'): Promise<number> {
  const ids = await connectionsNamed(name);
  for (const id of ids) {
    await fetch(`${MANAGEMENT_ENDPOINT}/api/connections/${encodeURIComponent(id)}`, {
      method: 'DELETE',
      headers: { authorization, 'x-reason': reason },
    });
  }
  return ids.length;
}

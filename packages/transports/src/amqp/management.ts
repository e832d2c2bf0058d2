/**
 * Live topology through the RabbitMQ management HTTP API (AMQP itself cannot list anything).
 * When the API is unreachable the result says `complete: false` and lists nothing, so callers can
 * tell "nothing there" from "could not look".
 */
import type { BindingSpec, BrokerUrl, ExchangeSpec, ExchangeType, ObservedTopology, QueueSpec } from '@wakame/core/spi';
import { fromBrokerArguments, InvalidArgumentError } from '@wakame/core/spi';

const TIMEOUT_MS = 5_000;

interface ApiExchange {
  name: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}
interface ApiQueue {
  name: string;
  durable: boolean;
  exclusive: boolean;
  auto_delete: boolean;
  arguments: Record<string, unknown>;
  messages?: number;
  consumers?: number;
}
interface ApiBinding {
  source: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: Record<string, unknown>;
}

/** The management base URL: the `managementUrl` option, else `http://<amqp host>:15672`. */
export function managementBase(url: BrokerUrl, override: unknown): string {
  if (typeof override === 'string' && override !== '') return override.replace(/\/+$/, '');
  const host = url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname;
  return `${url.tls ? 'https' : 'http'}://${host}:15672`;
}

/** Where the management API is and how to log in to it. */
export interface ManagementEndpoint {
  /** The base URL without credentials: safe for messages. */
  readonly base: string;
  readonly username: string;
  /** The `authorization` header (basic auth); never put it in a message. */
  readonly authorization: string;
}

/**
 * The management API of `url`'s broker ({@link managementBase}), logged in with the credentials of
 * the `managementUrl` option when it has some, else with the AMQP URL's (guest by default). They
 * travel in a header: fetch refuses credentials inside a URL.
 */
export function managementEndpoint(url: BrokerUrl, override: unknown): ManagementEndpoint {
  const base = new URL(managementBase(url, override));
  const own = base.username !== '';
  const username = own ? decodeURIComponent(base.username) : (url.username ?? 'guest');
  const password = own ? decodeURIComponent(base.password) : (url.password ?? 'guest');
  base.username = '';
  base.password = '';
  return { base: base.href.replace(/\/+$/, ''), username, authorization: basicAuth(username, password) };
}

function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * Lists exchanges, queues (with ready counts) and bindings of the URL's vhost, logged in as
 * {@link managementEndpoint} says (the `managementUrl` option's credentials, else the AMQP URL's).
 *
 * @param clusterName - the cluster the AMQP connection reached: a management API that answers for
 *   another cluster is refused with {@link InvalidArgumentError} (listing it would misreport every entity).
 */
export async function inspectViaManagement(
  url: BrokerUrl,
  endpoint: ManagementEndpoint,
  clusterName?: string,
): Promise<ObservedTopology> {
  const vhost = encodeURIComponent(url.vhost);
  const base = endpoint.base;
  const get = async <T>(path: string, perVhost = true): Promise<T> => {
    const response = await fetch(`${base}/api/${path}${perVhost ? `/${vhost}` : ''}`, {
      headers: { authorization: endpoint.authorization },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`management API answered ${response.status} for ${path}`);
    return (await response.json()) as T;
  };
  let overview: { cluster_name?: unknown } | undefined;
  try {
    overview = await get<{ cluster_name?: unknown }>('overview', false);
  } catch {
    return { exchanges: [], queues: [], bindings: [], complete: false };
  }
  const listed = overview.cluster_name;
  if (clusterName !== undefined && typeof listed === 'string' && listed !== clusterName) {
    throw new InvalidArgumentError(
      `the management API at ${base} answers for cluster '${listed}', but the AMQP connection reached cluster ` +
        `'${clusterName}': give the management API of the broker you connect to (--management-url, transportOptions.managementUrl)`,
    );
  }
  try {
    const [exchanges, queues, bindings] = await Promise.all([
      get<ApiExchange[]>('exchanges'),
      get<ApiQueue[]>('queues'),
      get<ApiBinding[]>('bindings'),
    ]);
    return {
      exchanges: exchanges.filter((e) => e.name !== '').map(toExchange),
      queues: queues.map(toQueue),
      bindings: bindings.filter((b) => b.source !== '').map(toBinding),
      complete: true,
    };
  } catch {
    return { exchanges: [], queues: [], bindings: [], complete: false };
  }
}

function toExchange(e: ApiExchange): ExchangeSpec {
  const { 'alternate-exchange': ae, ...rest } = e.arguments ?? {};
  return {
    name: e.name,
    type: e.type as ExchangeType,
    durable: e.durable,
    autoDelete: e.auto_delete,
    internal: e.internal,
    ...(typeof ae === 'string' ? { alternateExchange: ae } : {}),
    arguments: rest,
  };
}

function toQueue(q: ApiQueue): QueueSpec & { messageCount: number; consumerCount?: number } {
  return {
    name: q.name,
    durable: q.durable,
    exclusive: q.exclusive,
    autoDelete: q.auto_delete,
    ...fromBrokerArguments(q.arguments ?? {}),
    messageCount: q.messages ?? 0,
    ...(q.consumers !== undefined ? { consumerCount: q.consumers } : {}),
  };
}

function toBinding(b: ApiBinding): BindingSpec {
  return {
    source: b.source,
    destination: b.destination,
    destinationType: b.destination_type,
    routingKey: b.routing_key,
    arguments: b.arguments ?? {},
  };
}

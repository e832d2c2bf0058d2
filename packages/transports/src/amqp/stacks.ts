/**
 * Stack records on RabbitMQ, kept by the broker itself:
 *
 * - The state document is a *global runtime parameter*, written and read through the management
 *   HTTP API (AMQP has no way to store a document). It is named `wakame.stack.<vhost>.<stack>`,
 *   the vhost percent-encoded, `.` included, so that the name says unambiguously which vhost and
 *   stack it belongs to (`a.b` + `c` and `a` + `b.c` must not meet). RabbitMQ turns the name into an
 *   Erlang atom: any characters, at most 255. The value is `{ vhost, stack, state }`: RabbitMQ
 *   hands back an empty top-level object as `[]`, so the document is never the top level.
 * - The apply lock is an exclusive, non-durable queue `wakame.lock.<stack>`, declared on a channel of
 *   its own on the transport's connection: RabbitMQ lets only that connection use it (another gets
 *   405 RESOURCE_LOCKED) and deletes it when the connection goes, so a crashed apply's lock lapses
 *   by itself. The holder rides along in the queue argument `x-wakame-lock-holder` (RabbitMQ keeps
 *   unknown `x-` arguments), read back through the management API to say who holds it.
 *
 * The management API needs a user tagged `policymaker` or `administrator` for global parameters.
 *
 * @module
 */
import type {
  BrokerUrl,
  LockAttempt,
  LockHolder,
  StackLock,
  StackLockOptions,
  StackStateStore,
} from '@wakame/core/spi';
import {
  AccessRefusedError,
  acquireStackLock,
  ConnectionError,
  DecodeError,
  InvalidArgumentError,
  STACK_NAME_PATTERN,
  TimeoutError,
  TransportError,
} from '@wakame/core/spi';
import type { ChannelModel } from 'amqplib';
import { fromAmqpError } from './errors.js';
import { type ManagementEndpoint, managementEndpoint } from './management.js';

/** The queue argument carrying the lock holder (JSON). */
export const LOCK_HOLDER_ARGUMENT = 'x-wakame-lock-holder';

/** What the stack store needs from its transport. */
export interface AmqpStacksHost {
  /** The live connection (waits through a recovery, bounded). */
  connection(): Promise<ChannelModel>;
  /** The broker URL: vhost, and the management API's host and credentials by default. */
  readonly url: BrokerUrl;
  /** The `managementUrl` transport option. */
  readonly managementUrl: string | undefined;
}

const TIMEOUT_MS = 10_000;
/** RabbitMQ's limit on a parameter name (an Erlang atom). */
const MAX_NAME = 255;
const HINT =
  'the stack state of RabbitMQ lives in its management API: enable the rabbitmq_management plugin, or give its address ' +
  'with --management-url (transportOptions.managementUrl)';

/** {@link StackStateStore} of the AMQP transport; see the module description. */
export class AmqpStacks implements StackStateStore {
  readonly #host: AmqpStacksHost;
  #endpoint: ManagementEndpoint | undefined;
  /** Locks held through this connection: RabbitMQ lets the owning connection declare its queue again. */
  readonly #held = new Map<string, AmqpLock>();

  constructor(host: AmqpStacksHost) {
    this.#host = host;
  }

  /** The global parameter holding a stack's state document. */
  parameterName(stack: string): string {
    const vhost = encodeURIComponent(this.#host.url.vhost).replace(/\./g, '%2E');
    const name = `wakame.stack.${vhost}.${checked(stack)}`;
    if (name.length > MAX_NAME) {
      throw new InvalidArgumentError(
        `the RabbitMQ parameter name '${name}' is longer than ${MAX_NAME} characters: use a shorter stack name`,
      );
    }
    return name;
  }

  describe(stack: string): string {
    return `RabbitMQ global parameter ${this.parameterName(stack)} (management API at ${this.#api().base})`;
  }

  async read(stack: string): Promise<Readonly<Record<string, unknown>> | undefined> {
    const response = await this.#request('GET', this.#parameterPath(stack));
    if (response.status === 404) return undefined;
    await this.#ok(response, 'read', stack);
    const body = (await response.json().catch(() => undefined)) as { value?: { state?: unknown } } | undefined;
    const state = body?.value?.state;
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw new DecodeError(`the ${this.describe(stack)} does not hold a Wakame stack state`);
    }
    return state as Record<string, unknown>;
  }

  async write(stack: string, state: Readonly<Record<string, unknown>>): Promise<void> {
    const name = this.parameterName(stack);
    const value = { vhost: this.#host.url.vhost, stack, state };
    await this.#ok(await this.#request('PUT', this.#parameterPath(stack), { name, value }), 'write', stack);
  }

  async remove(stack: string): Promise<void> {
    const response = await this.#request('DELETE', this.#parameterPath(stack));
    if (response.status !== 404) await this.#ok(response, 'remove', stack);
  }

  async lock(stack: string, options: StackLockOptions): Promise<StackLock> {
    const queue = `wakame.lock.${checked(stack)}`;
    return acquireStackLock(stack, options, () => this.#attempt(stack, queue, options.holder));
  }

  async #attempt(stack: string, queue: string, holder: LockHolder): Promise<LockAttempt> {
    const mine = this.#held.get(stack);
    if (mine) return { heldBy: mine.holder };
    const conn = await this.#host.connection();
    let channel: Awaited<ReturnType<ChannelModel['createChannel']>>;
    try {
      channel = await conn.createChannel();
    } catch (error) {
      throw fromAmqpError(error);
    }
    // A refused declare closes the channel: a channel of our own, never one that publishes or consumes.
    channel.on('error', () => {});
    try {
      await channel.assertQueue(queue, {
        exclusive: true,
        durable: false,
        autoDelete: false,
        arguments: { [LOCK_HOLDER_ARGUMENT]: JSON.stringify(holder) },
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === 405) return { heldBy: await this.#holderOf(queue) };
      throw fromAmqpError(error, { entity: { kind: 'queue', name: queue } });
    } finally {
      await channel.close().catch(() => undefined);
    }
    // Two attempts of this connection at once both succeed (the queue is already ours): one wins.
    const raced = this.#held.get(stack);
    if (raced) return { heldBy: raced.holder };
    const lock: AmqpLock = new AmqpLock(conn, queue, holder, () => {
      if (this.#held.get(stack) === lock) this.#held.delete(stack);
    });
    this.#held.set(stack, lock);
    return { lock };
  }

  /** Who holds the lock queue, from its arguments; undefined when that cannot be learnt (best effort). */
  async #holderOf(queue: string): Promise<LockHolder | undefined> {
    try {
      const response = await this.#request(
        'GET',
        `queues/${encodeURIComponent(this.#host.url.vhost)}/${encodeURIComponent(queue)}`,
      );
      if (!response.ok) return undefined;
      const body = (await response.json()) as { arguments?: Record<string, unknown> };
      const h = JSON.parse(String(body.arguments?.[LOCK_HOLDER_ARGUMENT])) as Partial<LockHolder>;
      return typeof h.id === 'string' && typeof h.description === 'string' && typeof h.since === 'string'
        ? { id: h.id, description: h.description, since: h.since }
        : undefined;
    } catch {
      return undefined;
    }
  }

  #parameterPath(stack: string): string {
    return `global-parameters/${encodeURIComponent(this.parameterName(stack))}`;
  }

  #api(): ManagementEndpoint {
    this.#endpoint ??= endpointOf(this.#host);
    return this.#endpoint;
  }

  /** One management API call; network failures and refused logins become typed errors. */
  async #request(method: string, path: string, body?: unknown): Promise<Response> {
    const api = this.#api();
    let response: Response;
    try {
      response = await fetch(`${api.base}/api/${path}`, {
        method,
        headers: { authorization: api.authorization, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') {
        throw new TimeoutError(
          `the RabbitMQ management API at ${api.base} did not answer in ${TIMEOUT_MS} ms; ${HINT}`,
          {
            cause: error,
          },
        );
      }
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new ConnectionError(`cannot reach the RabbitMQ management API at ${api.base} (${reason}); ${HINT}`, {
        cause: error,
      });
    }
    if (response.status === 401 || response.status === 403) {
      const reason = await reasonOf(response);
      throw new AccessRefusedError(
        `the RabbitMQ management API at ${api.base} refused user '${api.username}' (HTTP ${response.status}` +
          `${reason ? `: ${reason}` : ''}); stack state needs a user tagged 'policymaker' or 'administrator', ` +
          'whose credentials come from the broker URL or from --management-url (transportOptions.managementUrl)',
      );
    }
    return response;
  }

  async #ok(response: Response, what: string, stack: string): Promise<void> {
    if (response.ok) return;
    const reason = await reasonOf(response);
    throw new TransportError(
      `cannot ${what} the ${this.describe(stack)}: HTTP ${response.status}${reason ? ` (${reason})` : ''}`,
    );
  }
}

/**
 * A held lock queue. A reconnect loses it: the exclusive queue goes with the old connection (the
 * transport does not declare it again), and another apply may then take the lock.
 */
class AmqpLock implements StackLock {
  /** The connection closed: the queue, and so the lock, went with it. */
  #lost = false;
  #released: Promise<void> | undefined;
  readonly #onClose = (): void => {
    this.#lost = true;
    this.forget();
  };

  constructor(
    readonly conn: ChannelModel,
    readonly queue: string,
    readonly holder: LockHolder,
    readonly forget: () => void,
  ) {
    conn.once('close', this.#onClose);
  }

  release(): Promise<void> {
    this.#released ??= this.#release();
    return this.#released;
  }

  async #release(): Promise<void> {
    this.forget();
    try {
      // Nothing to delete once the connection is gone (and another connection may not delete
      // whatever queue of that name another holder has declared since).
      if (this.#lost) return;
      const channel = await this.conn.createChannel();
      channel.on('error', () => {});
      await channel.deleteQueue(this.queue);
      await channel.close().catch(() => undefined);
    } catch (error) {
      const mapped = fromAmqpError(error, { entity: { kind: 'queue', name: this.queue } });
      // The connection closed meanwhile: the queue went with it.
      if (this.#lost || mapped instanceof ConnectionError) return;
      throw mapped;
    } finally {
      this.conn.removeListener('close', this.#onClose);
    }
  }
}

function endpointOf(host: AmqpStacksHost): ManagementEndpoint {
  try {
    return managementEndpoint(host.url, host.managementUrl);
  } catch (error) {
    throw new InvalidArgumentError(`the managementUrl option is not a valid URL: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The `reason` of a management API error body (it never echoes credentials). */
async function reasonOf(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.json()) as { reason?: unknown; error?: unknown };
    return String(body.reason ?? body.error ?? '') || undefined;
  } catch {
    return undefined;
  }
}

function checked(stack: string): string {
  if (!STACK_NAME_PATTERN.test(stack)) {
    throw new InvalidArgumentError(`invalid stack name '${stack}': use letters, digits, '.', '_' and '-'`);
  }
  return stack;
}

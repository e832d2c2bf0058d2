/**
 * Celery's worker events, so Flower and `celery events` see a Wakame worker: `task-received`,
 * `task-started`, `task-succeeded`, `task-failed`, `task-retried`, `task-revoked`, and
 * `worker-online`/`worker-heartbeat`/`worker-offline`. Each is a JSON dict with `type`, `hostname`,
 * `timestamp`, `utcoffset`, `pid` and a Lamport `clock`, published to the `celeryev` exchange with the
 * type's dashes as dots for routing key (a topic exchange; on Redis a PUB/SUB fanout, as Celery makes
 * it there). Sending is best effort: an event that cannot be sent never fails a task.
 *
 * @module
 */
import { loadavg, hostname as osHostname } from 'node:os';
import type { Connection } from '../messaging/connection.js';
import { Exchange } from '../model/exchange.js';

/** Celery's event exchange. */
export const CELERY_EVENT_EXCHANGE = 'celeryev';
/** Celery's `worker-heartbeat` interval, in seconds. */
export const DEFAULT_HEARTBEAT_SECONDS = 2;

/** Options of worker events. */
export interface CeleryEventOptions {
  /** The worker's name as Celery shows it. @defaultValue `wakame@<host name>` */
  readonly hostname?: string;
  /** Seconds between heartbeats (Flower marks a worker offline after missing a few). @defaultValue 2 */
  readonly heartbeatSeconds?: number;
  /** The exchange (Celery's `event_exchange`). @defaultValue `'celeryev'` */
  readonly exchange?: string;
}

/** Sends Celery events for one worker. */
export class CeleryEventDispatcher {
  readonly hostname: string;
  readonly #connection: Connection;
  readonly #exchange: Exchange;
  readonly #heartbeatMs: number;
  #clock = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #active = 0;
  #processed = 0;

  constructor(connection: Connection, options: CeleryEventOptions = {}) {
    this.#connection = connection;
    this.hostname = options.hostname ?? `wakame@${osHostname()}`;
    this.#heartbeatMs = (options.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS) * 1000;
    const name = options.exchange ?? CELERY_EVENT_EXCHANGE;
    // Celery turns its topic exchange into a PUB/SUB fanout on Redis (nothing stored, live listeners only).
    const redis = connection.url.startsWith('redis');
    this.#exchange = redis
      ? new Exchange(name, { type: 'fanout', arguments: { 'x-redis-fanout': 'pubsub' } })
      : new Exchange(name, { type: 'topic' });
  }

  /** Publishes one event; failures are swallowed (events are telemetry). */
  async send(type: string, fields: Readonly<Record<string, unknown>> = {}): Promise<void> {
    this.#clock += 1;
    const event = {
      hostname: this.hostname,
      utcoffset: Math.round(new Date().getTimezoneOffset() / 60),
      pid: process.pid,
      clock: this.#clock,
      ...fields,
      timestamp: Date.now() / 1000,
      type,
    };
    try {
      await this.#connection.declare(this.#exchange);
      await this.#connection.producer().publish(event, {
        exchange: this.#exchange.name,
        routingKey: type.replaceAll('-', '.'),
        headers: { hostname: this.hostname },
        persistent: false,
      });
    } catch (error) {
      this.#connection.logger.warn(`Celery event ${type} not sent: ${String(error)}`);
    }
  }

  /** Counts a task as running (for heartbeats' `active`). */
  taskStarted(): void {
    this.#active += 1;
  }

  /** Counts a task as done (for heartbeats' `processed`). */
  taskDone(): void {
    this.#active = Math.max(0, this.#active - 1);
    this.#processed += 1;
  }

  #workerFields(): Record<string, unknown> {
    return {
      freq: this.#heartbeatMs / 1000,
      sw_ident: 'wakame',
      sw_ver: '0.1.0',
      sw_sys: process.platform,
      active: this.#active,
      processed: this.#processed,
      loadavg: loadavg().map((n) => Math.round(n * 100) / 100),
    };
  }

  /** `worker-online`, then a `worker-heartbeat` every interval. */
  async start(): Promise<void> {
    await this.send('worker-online', this.#workerFields());
    this.#heartbeat = setInterval(() => void this.send('worker-heartbeat', this.#workerFields()), this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Stops heartbeats and sends `worker-offline`. */
  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    await this.send('worker-offline', this.#workerFields());
  }
}

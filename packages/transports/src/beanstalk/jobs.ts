/**
 * How Wakame's queues and messages map onto beanstalkd's tubes and jobs: tube names, the job body
 * (a JSON header line, then the message body), and priorities (beanstalkd serves the *lowest* number
 * first, Wakame the highest priority).
 *
 * @module
 */

import type { StoredMessage } from '@wakame/core/spi';
import { InvalidArgumentError } from '@wakame/core/spi';

/** beanstalkd refuses tube names longer than this (bytes). */
export const MAX_TUBE_NAME = 200;

/**
 * Characters kept as they are in a tube name. beanstalkd also allows `$`, `(` and `)`: `$` starts an
 * escape here, and parentheses are left to Wakame's own tubes ({@link recordTube}), so no queue name
 * can ever produce a tube Wakame reserves.
 */
const PLAIN = /[A-Za-z0-9+/;._-]/;

/** The tube of `queue`: `prefix` + the name, other characters as `$` and two hex digits per UTF-8 byte. */
export function queueTube(prefix: string, queue: string): string {
  let name = prefix;
  for (const char of queue) {
    if (PLAIN.test(char) && !(name === '' && char === '-')) name += char;
    else for (const byte of Buffer.from(char, 'utf8')) name += `$${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (Buffer.byteLength(name) > MAX_TUBE_NAME) {
    throw new InvalidArgumentError(
      `queue '${queue}' needs a beanstalkd tube name of more than ${MAX_TUBE_NAME} bytes (prefix included)`,
    );
  }
  return name;
}

/** A tube of Wakame's own records (`(wakame)topology`): the parentheses keep it apart from every queue's tube. */
export function recordTube(prefix: string, name: string): string {
  return `${prefix}(wakame)${name}`;
}

/** Checks the URL's `prefix` option: tube characters only, not starting with `-`. */
export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9+/;._$()-]*$/.test(prefix) || prefix.startsWith('-') || prefix.length > 100) {
    throw new InvalidArgumentError(
      `beanstalk:// option prefix may hold letters, digits and + / ; . _ $ ( ) -, not start with '-', and be at most 100 long; got '${prefix}'`,
    );
  }
  return prefix;
}

/**
 * A job's beanstalkd priority for a message of Wakame priority `priority` (0–255, higher first). Two
 * numbers per priority: a requeued message (`redelivered`) gets the lower one, so it is served before
 * the messages that never left the queue, while within each group the job id keeps publish order.
 * Jobs of other clients (beanstalkd's usual default is 1024) come after every Wakame message.
 */
export function jobPriority(priority: number, redelivered: boolean): number {
  return (255 - priority) * 2 + (redelivered ? 0 : 1);
}

/** The Wakame priority of a job's beanstalkd priority (0 for other clients' jobs, 512 and above). */
export function messagePriority(pri: number): number {
  return pri < 512 ? 255 - Math.floor(pri / 2) : 0;
}

/** Whether a job's beanstalkd priority marks it as requeued (see {@link jobPriority}). */
export function requeuedPriority(pri: number): boolean {
  return pri < 512 && pri % 2 === 0;
}

interface JobHeader {
  /** Format marker and version. */
  readonly wakame: 1;
  readonly id: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly priority: number;
  readonly expiresAt?: number;
  readonly properties: StoredMessage['properties'];
  /** Ids of the jobs holding the body, in order, when it is too large for one job (see {@link splitBody}). */
  readonly parts?: readonly number[];
}

const NEWLINE = 0x0a;

/**
 * A job body for `message`: its header as one JSON line, then the body's bytes untouched; or, when the
 * body is stored in parts (`parts` given), the header alone, naming them.
 */
export function encodeJob(message: StoredMessage, parts?: readonly number[]): Buffer {
  const header: JobHeader = {
    wakame: 1,
    id: message.id,
    exchange: message.exchange,
    routingKey: message.routingKey,
    priority: message.priority,
    ...(message.expiresAt !== undefined ? { expiresAt: message.expiresAt } : {}),
    properties: message.properties,
    ...(parts ? { parts } : {}),
  };
  const line = Buffer.from(`${JSON.stringify(header)}\n`);
  return parts ? line : Buffer.concat([line, message.body]);
}

/**
 * The body cut into parts of at most `maxJobSize` bytes. beanstalkd refuses a job larger than its
 * `max-job-size` (`-z`, 64 KiB by default), so a larger message keeps its body in part jobs of a
 * tube nobody reserves, and its own job holds the header naming them.
 */
export function splitBody(body: Buffer, maxJobSize: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += maxJobSize)
    parts.push(body.subarray(offset, offset + maxJobSize));
  return parts;
}

/** A job's message, and the ids of the part jobs its body is in (empty when the job holds it). */
export interface DecodedJob {
  readonly message: StoredMessage;
  readonly parts: readonly number[];
}

/**
 * The message in a job. A job some other beanstalkd client put (no Wakame header) is delivered as it
 * is: its whole body, no properties, routing key `queue`, so Wakame consumers can work a tube that
 * other programs feed.
 */
export function decodeJob(jobId: number, data: Buffer, queue: string, redelivered: boolean): DecodedJob {
  const newline = data.indexOf(NEWLINE);
  if (newline > 0 && data.subarray(0, 11).toString('latin1') === '{"wakame":1') {
    try {
      const header = JSON.parse(data.toString('utf8', 0, newline)) as JobHeader;
      const message: StoredMessage = {
        id: header.id,
        body: data.subarray(newline + 1),
        properties: header.properties,
        exchange: header.exchange,
        routingKey: header.routingKey,
        priority: header.priority,
        expiresAt: header.expiresAt,
        redelivered,
      };
      return { message, parts: header.parts ?? [] };
    } catch {
      // Not our header after all: fall through and deliver the job as a foreign one.
    }
  }
  const message: StoredMessage = {
    id: `beanstalk-${jobId}`,
    body: data,
    properties: {},
    exchange: '',
    routingKey: queue,
    priority: 0,
    expiresAt: undefined,
    redelivered,
  };
  return { message, parts: [] };
}

/** Test helpers for commands that need a topology applied: a fresh in-process broker, and one message taken off it. */
import { randomUUID } from 'node:crypto';
import { Connection, type Message } from '@wakame/core';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

/** `topology` applied to a fresh in-process broker; a connection kept open to read the queues (close it). */
export async function appliedBroker(topology: string): Promise<{ url: string; keeper: Connection }> {
  const url = `memory://${randomUUID()}`;
  const keeper = await Connection.open(url);
  await runCli(capture().ctx, ['apply', topology, '--url', url, '--yes']);
  return { url, keeper };
}

/** The next message of `queue`, acked; fails the test when the queue is empty. */
export async function takeMessage(connection: Connection, queue: string): Promise<Message> {
  const message = await connection.getMessage(queue);
  if (!message) throw new Error(`queue '${queue}' is empty`);
  await message.ack();
  return message;
}

/**
 * A small beanstalkd client: one TCP connection, commands pipelined (written as they come, answered
 * in order), each command's reply checked against what the protocol allows for it. Written in-tree:
 * the protocol is a dozen text commands, adding a client package would change the shared lockfile, and
 * this one batches the writes of one event-loop turn and reads each reply once.
 *
 * Every failure is typed: the server's error words become {@link BeanstalkCommandError} (with the
 * word in `reply`), a lost or refused connection {@link ConnectionError}, a connect that takes too
 * long {@link TimeoutError}.
 *
 * @module
 */
import { connect as netConnect, type Socket } from 'node:net';
import { ConnectionError, type RecoveryScope, TimeoutError, TransportError } from '@wakame/core/spi';
import { parseYamlDict, parseYamlList, type Reply, ReplyParser } from './reply-parser.js';

/** A job as `reserve` and `peek` hand it over. */
export interface Job {
  readonly id: number;
  readonly body: Buffer;
}

/** The server refused a command, or answered one in a way the protocol does not allow. */
export class BeanstalkCommandError extends TransportError {
  override readonly name = 'BeanstalkCommandError';
  override readonly code = 'ERR_BEANSTALK_COMMAND';
  override readonly retriable: boolean;
  override readonly recovery: RecoveryScope = 'none';

  constructor(
    /** The command's name, e.g. `put`. */
    readonly command: string,
    /** The server's reply word, e.g. `JOB_TOO_BIG`, `OUT_OF_MEMORY`, `DRAINING`. */
    readonly reply: string,
    message?: string,
  ) {
    super(message ?? `beanstalkd refused ${command}: ${reply}`);
    // The server may get memory back or stop draining; the other refusals repeat themselves.
    this.retriable = reply === 'OUT_OF_MEMORY' || reply === 'DRAINING' || reply === 'INTERNAL_ERROR';
  }
}

/** Where and how to connect. */
export interface ClientOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly signal?: AbortSignal;
}

interface Pending {
  readonly command: string;
  /** Reply words this command expects; anything else is an error. */
  readonly accept: ReadonlySet<string>;
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

const accepts = (...words: string[]): ReadonlySet<string> => new Set(words);
const INSERTED = accepts('INSERTED', 'BURIED');
const USING = accepts('USING');
const WATCHING = accepts('WATCHING', 'NOT_IGNORED');
const RESERVED = accepts('RESERVED', 'TIMED_OUT', 'DEADLINE_SOON');
const DELETED = accepts('DELETED', 'NOT_FOUND');
const RELEASED = accepts('RELEASED', 'BURIED', 'NOT_FOUND');
const TOUCHED = accepts('TOUCHED', 'NOT_FOUND');
const FOUND = accepts('FOUND', 'NOT_FOUND');
const OK = accepts('OK', 'NOT_FOUND');
const KICKED = accepts('KICKED', 'NOT_FOUND');

/** One connection to beanstalkd. Commands may be issued without awaiting the previous ones. */
export class BeanstalkClient {
  readonly #socket: Socket;
  readonly #parser = new ReplyParser();
  readonly #pending: Pending[] = [];
  /** Index of the next reply's command in #pending (a head index instead of shift() on a long array). */
  #head = 0;
  #corked = false;
  #closedWith: Error | undefined;
  readonly #closeListeners = new Set<(error: Error) => void>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(new ConnectionError(`beanstalkd connection failed: ${error.message}`)));
    socket.on('close', () => this.#fail(new ConnectionError('beanstalkd connection closed')));
  }

  /** Opens a connection; fails with {@link TimeoutError} after `connectTimeoutMs`, {@link ConnectionError} if refused. */
  static connect(options: ClientOptions): Promise<BeanstalkClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: options.host, port: options.port });
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        socket.removeListener('error', finish);
        if (!error) {
          socket.setNoDelay(true);
          socket.setKeepAlive(true, 10_000);
          resolve(new BeanstalkClient(socket));
          return;
        }
        socket.destroy();
        reject(error);
      };
      const at = `${options.host}:${options.port}`;
      const timer = setTimeout(
        () =>
          finish(
            new TimeoutError(`beanstalkd at ${at} did not accept a connection within ${options.connectTimeoutMs} ms`),
          ),
        options.connectTimeoutMs,
      );
      const onAbort = (): void => finish(new ConnectionError(`connecting to beanstalkd at ${at} was aborted`));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => finish());
      socket.once('error', (error) =>
        finish(new ConnectionError(`cannot reach beanstalkd at ${at}: ${error.message}`)),
      );
    });
  }

  /** Whether the connection is gone (closed by either side or failed). */
  get closed(): boolean {
    return this.#closedWith !== undefined;
  }

  /** Calls `listener` once when the connection is lost or closed. */
  onClose(listener: (error: Error) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * Closes the connection at once: jobs it had reserved go back to their tubes (the server does it),
   * and commands still waiting for a reply fail with {@link ConnectionError}.
   */
  close(): void {
    this.#fail(new ConnectionError('beanstalkd connection closed'));
    this.#socket.destroy();
  }

  /** Commands are in flight (a reserve may be waiting on the server). */
  get busy(): boolean {
    return this.#head < this.#pending.length;
  }

  async use(tube: string): Promise<void> {
    await this.#send('use', `use ${tube}`, USING);
  }

  /** @returns how many tubes the connection watches now. */
  async watch(tube: string): Promise<number> {
    return Number((await this.#send('watch', `watch ${tube}`, WATCHING)).args[0]);
  }

  /** @returns false when `tube` is the only one watched (the server refuses to watch none). */
  async ignore(tube: string): Promise<boolean> {
    return (await this.#send('ignore', `ignore ${tube}`, WATCHING)).status === 'WATCHING';
  }

  /** Uses `tube` and watches it alone (not `default`): the connection of one record tube. */
  async useOnly(tube: string): Promise<void> {
    await Promise.all([this.use(tube), this.watch(tube)]);
    await this.ignore('default');
  }

  /** Puts a job into the tube in `use`. @returns its id. */
  async put(priority: number, delaySeconds: number, ttrSeconds: number, body: Buffer): Promise<number> {
    const reply = await this.#send(
      'put',
      `put ${priority} ${delaySeconds} ${ttrSeconds} ${body.length}`,
      INSERTED,
      body,
    );
    // BURIED after put means the server ran out of memory growing its queue: the job is not ready.
    if (reply.status === 'BURIED')
      throw new BeanstalkCommandError('put', 'BURIED', 'beanstalkd buried the job it was given: out of memory');
    return Number(reply.args[0]);
  }

  /**
   * Reserves a job from the watched tubes, waiting up to `timeoutSeconds` (0: only what is ready now).
   * @returns undefined when none came (or a job this connection holds is about to exceed its TTR).
   */
  async reserve(timeoutSeconds: number): Promise<Job | undefined> {
    const reply = await this.#send('reserve', `reserve-with-timeout ${timeoutSeconds}`, RESERVED);
    return reply.status === 'RESERVED' ? { id: Number(reply.args[0]), body: reply.data as Buffer } : undefined;
  }

  /** Up to `max` jobs ready now, their reserves sent together (one round trip). */
  async reserveReady(max: number): Promise<Job[]> {
    const reserves: Promise<Job | undefined>[] = [];
    for (let i = 0; i < max; i++) reserves.push(this.reserve(0));
    return (await Promise.all(reserves)).filter((job): job is Job => job !== undefined);
  }

  /** Every job ready now, reserved one after another until none is left. */
  async reserveAll(): Promise<Job[]> {
    const held: Job[] = [];
    for (let job = await this.reserve(0); job; job = await this.reserve(0)) held.push(job);
    return held;
  }

  /** @returns false when no such job exists or another connection holds it. */
  async delete(id: number): Promise<boolean> {
    return (await this.#send('delete', `delete ${id}`, DELETED)).status === 'DELETED';
  }

  /** Returns a job this connection holds to the ready queue with `priority`. @returns false when not held. */
  async release(id: number, priority: number, delaySeconds = 0): Promise<boolean> {
    return (await this.#send('release', `release ${id} ${priority} ${delaySeconds}`, RELEASED)).status === 'RELEASED';
  }

  /** Restarts the TTR of a job this connection holds. @returns false when not held. */
  async touch(id: number): Promise<boolean> {
    return (await this.#send('touch', `touch ${id}`, TOUCHED)).status === 'TOUCHED';
  }

  /** The next ready job of the tube in `use`, left where it is. */
  async peekReady(): Promise<Job | undefined> {
    const reply = await this.#send('peek-ready', 'peek-ready', FOUND);
    return reply.status === 'FOUND' ? { id: Number(reply.args[0]), body: reply.data as Buffer } : undefined;
  }

  /** Any job by id, in whichever tube and state, left where it is. */
  async peek(id: number): Promise<Job | undefined> {
    const reply = await this.#send('peek', `peek ${id}`, FOUND);
    return reply.status === 'FOUND' ? { id: Number(reply.args[0]), body: reply.data as Buffer } : undefined;
  }

  /** Moves a buried or delayed job to the ready queue. @returns false when there is no such job. */
  async kickJob(id: number): Promise<boolean> {
    return (await this.#send('kick-job', `kick-job ${id}`, KICKED)).status === 'KICKED';
  }

  /** `stats-tube`: undefined when the tube does not exist (no jobs and nobody watching or using it). */
  async statsTube(tube: string): Promise<Record<string, string> | undefined> {
    const reply = await this.#send('stats-tube', `stats-tube ${tube}`, OK);
    return reply.data ? parseYamlDict(reply.data) : undefined;
  }

  /** `stats-job`: undefined when the job does not exist. */
  async statsJob(id: number): Promise<Record<string, string> | undefined> {
    const reply = await this.#send('stats-job', `stats-job ${id}`, OK);
    return reply.data ? parseYamlDict(reply.data) : undefined;
  }

  /** `stats`: the server's counters and limits (`max-job-size`, `version`, …). */
  async stats(): Promise<Record<string, string>> {
    return parseYamlDict((await this.#send('stats', 'stats', OK)).data ?? Buffer.alloc(0));
  }

  async listTubes(): Promise<string[]> {
    return parseYamlList((await this.#send('list-tubes', 'list-tubes', OK)).data ?? Buffer.alloc(0));
  }

  #send(command: string, line: string, accept: ReadonlySet<string>, data?: Buffer): Promise<Reply> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.push({ command, accept, resolve, reject });
      // Commands issued in one turn of the event loop leave in one segment.
      if (!this.#corked) {
        this.#corked = true;
        this.#socket.cork();
        process.nextTick(() => {
          this.#corked = false;
          this.#socket.uncork();
        });
      }
      this.#socket.write(`${line}\r\n`);
      if (data) {
        this.#socket.write(data);
        this.#socket.write('\r\n');
      }
    });
  }

  #onData(chunk: Buffer): void {
    let replies: Reply[];
    try {
      replies = this.#parser.push(chunk);
    } catch (error) {
      this.#fail(new ConnectionError(`beanstalkd sent an unreadable reply: ${(error as Error).message}`));
      this.#socket.destroy();
      return;
    }
    for (const reply of replies) {
      const pending = this.#pending[this.#head];
      if (!pending) {
        this.#fail(new ConnectionError(`beanstalkd sent a reply nobody asked for: ${reply.status}`));
        this.#socket.destroy();
        return;
      }
      this.#head++;
      if (pending.accept.has(reply.status)) pending.resolve(reply);
      else pending.reject(new BeanstalkCommandError(pending.command, reply.status));
    }
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #fail(error: Error): void {
    if (this.#closedWith) return;
    this.#closedWith = error;
    const waiting = this.#pending.slice(this.#head);
    this.#pending.length = 0;
    this.#head = 0;
    for (const pending of waiting) pending.reject(error);
    for (const listener of this.#closeListeners) listener(error);
  }
}

/**
 * Stack records of `wakame apply` in ZooKeeper: a stack's state document is the data of a persistent
 * znode (a `setData` replaces it atomically), its apply lock an ephemeral znode holding the holder, so a
 * crashed holder's lock lapses with its session, without a lease to renew.
 *
 * @module
 */
import type { LockAttempt, LockHolder, StackLock, StackLockOptions, StackStateStore } from '@wakame/core/spi';
import { acquireStackLock, InvalidArgumentError, parseStackDocument, STACK_NAME_PATTERN } from '@wakame/core/spi';
import { CreateMode, isZkCode, ZK, type ZkSession } from './session.js';

export class ZkStacks implements StackStateStore {
  constructor(
    private readonly session: ZkSession,
    private readonly statesPath: string,
    private readonly locksPath: string,
  ) {}

  describe(stack: string): string {
    return `znode ${this.statesPath}/${checked(stack)} on ZooKeeper at ${this.session.options.where}`;
  }

  async read(stack: string): Promise<Readonly<Record<string, unknown>> | undefined> {
    try {
      const { data } = await this.session.getData(`${this.statesPath}/${checked(stack)}`);
      return data.length === 0 ? undefined : parseStackDocument(data.toString('utf8'), this.describe(stack));
    } catch (error) {
      if (isZkCode(error, ZK.NO_NODE)) return undefined;
      throw error;
    }
  }

  async write(stack: string, state: Readonly<Record<string, unknown>>): Promise<void> {
    const path = `${this.statesPath}/${checked(stack)}`;
    const data = Buffer.from(JSON.stringify(state), 'utf8');
    try {
      await this.session.setData(path, data);
    } catch (error) {
      if (!isZkCode(error, ZK.NO_NODE)) throw error;
      await this.session.mkdirp(this.statesPath);
      await this.session.create(path, data, CreateMode.PERSISTENT).catch(async (e: unknown) => {
        // Written by another process between our two calls: ours replaces it, as a write would.
        if (!isZkCode(e, ZK.NODE_EXISTS)) throw e;
        await this.session.setData(path, data);
      });
    }
  }

  async remove(stack: string): Promise<void> {
    await this.session.removeIfThere(`${this.statesPath}/${checked(stack)}`);
  }

  lock(stack: string, options: StackLockOptions): Promise<StackLock> {
    const path = `${this.locksPath}/${checked(stack)}`;
    return acquireStackLock(stack, options, () => this.#attempt(path, options.holder));
  }

  async #attempt(path: string, holder: LockHolder): Promise<LockAttempt> {
    await this.session.mkdirp(this.locksPath);
    try {
      await this.session.create(path, Buffer.from(JSON.stringify(holder), 'utf8'), CreateMode.EPHEMERAL);
    } catch (error) {
      if (!isZkCode(error, ZK.NODE_EXISTS)) throw error;
      return { heldBy: await this.#holder(path) };
    }
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await this.session.removeIfThere(path);
    };
    return { lock: { release } };
  }

  async #holder(path: string): Promise<LockHolder | undefined> {
    try {
      const { data } = await this.session.getData(path);
      return JSON.parse(data.toString('utf8')) as LockHolder;
    } catch {
      // Released meanwhile, or not a holder record: the next attempt will tell.
      return undefined;
    }
  }
}

function checked(stack: string): string {
  if (!STACK_NAME_PATTERN.test(stack)) throw new InvalidArgumentError(`invalid stack name '${stack}'`);
  return stack;
}

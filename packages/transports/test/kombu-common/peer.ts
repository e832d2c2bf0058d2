/**
 * The Python side of the kombu interop suites of every transport: running a kombu peer (`kombu_peer.py`,
 * `kombu_redis_peer.py`, both over `kombu_variants.py` here) with the system interpreter (`/usr/bin/python3`, which
 * has Debian's python3-kombu) and reading the JSON it prints, the gate of a suite, the per-variant routes both sides
 * derive, and what the peers report of the messages kombu received.
 */
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { Exchange, Queue } from '@wakame/core';
import { type BrokerCheck, brokerGate, brokersRequired } from '@wakame/testkit';
import { expect } from 'vitest';
import { type Json, type JsonObject, type Variant, variantOf, wakamePublish } from './mapping.js';
import type { Publish } from './wakame.js';

export const PYTHON = '/usr/bin/python3';
export const HOOK_TIMEOUT_MS = 120_000;

/** `<peer> probe`: the versions (each peer adds its transport library's), and the optional serializers. */
export interface PeerInfo {
  readonly kombu: string;
  readonly python: string;
  readonly msgpack: boolean;
  readonly yaml: boolean;
  readonly variants: readonly string[];
}

/** One entry of `<peer> publish`: the variant and where it went (each peer adds what it captured of the wire). */
export interface SentVariant extends Variant {
  readonly queue: string;
  readonly routing_key: string;
}

/** What kombu made of one message (`<peer> consume`; each peer adds its delivery info and wire form). */
export interface KombuMessage {
  readonly content_type: string | null;
  readonly content_encoding: string | null;
  readonly headers: JsonObject;
  readonly properties: Readonly<Record<string, Json>>;
  readonly all_property_names: readonly string[];
  readonly payload?: Json;
  readonly decode_error?: string;
}

/**
 * kombu's JSON envelope as its virtual transports store it (a `kombu_message` payload, a ZooKeeper entry's data): the
 * body base64, the properties by kombu's names (with Wakame's additions, which kombu passes through).
 */
export interface KombuEnvelope {
  readonly body: string;
  readonly 'content-encoding': string | null;
  readonly 'content-type': string | null;
  readonly headers: JsonObject;
  readonly properties: JsonObject & { readonly priority?: number; readonly wakame?: JsonObject };
}

/**
 * What kombu made of one message on a virtual transport, with the envelope it came in (`kombu_sql_peer.py` and
 * `kombu_zk_peer.py consume`). `redelivered`: what the envelope's `delivery_info` says.
 */
export interface KombuEnvelopeMessage extends KombuMessage {
  readonly delivery_info: {
    readonly exchange: string | null;
    readonly routing_key: string | null;
    readonly redelivered?: boolean | null;
  };
  readonly envelope: KombuEnvelope | null;
}

/** What `<peer> consume` read from one queue, and what stopped it. */
export interface KombuDrainOf<M> {
  readonly messages: readonly M[];
  readonly errors: readonly string[];
}

/** Runs the peer with `args` (killed after `timeoutMs`) and parses the JSON it prints. */
export type PeerRunner = <T>(args: readonly string[], timeoutMs?: number) => Promise<T>;

function peerEnv(): NodeJS.ProcessEnv {
  // The system interpreter must not pick up a pyenv/virtualenv's modules.
  const { PYTHONPATH: _path, PYTHONHOME: _home, ...env } = process.env;
  return { ...env, PYTHONDONTWRITEBYTECODE: '1', PYTHONIOENCODING: 'utf-8' };
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .at(-1) ?? ''
  );
}

/** The runner of the peer script at `path`. */
export function peerRunner(path: string): PeerRunner {
  const name = basename(path);
  return <T>(args: readonly string[], timeoutMs = 60_000) =>
    new Promise<T>((resolve, reject) => {
      execFile(
        PYTHON,
        [path, ...args],
        { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024, env: peerEnv() },
        (error, stdout, stderr) => {
          if (error) {
            const why = error.killed ? `killed after ${timeoutMs} ms` : lastLine(stderr) || error.message;
            reject(new Error(`${name} ${args[0]} failed: ${why}`, { cause: error }));
            return;
          }
          try {
            resolve(JSON.parse(stdout) as T);
          } catch (parseError) {
            reject(
              new Error(`${name} ${args[0]} printed no JSON: ${stdout.slice(0, 300)} ${lastLine(stderr)}`, {
                cause: parseError,
              }),
            );
          }
        },
      );
    });
}

/** The one message kombu received for `variant` (its errors must be none). */
export function kombuOf<M>(drains: Readonly<Record<string, KombuDrainOf<M>>>, variant: string, who: string): M {
  const drain = drains[variant];
  if (drain === undefined) throw new Error(`kombu reported nothing for ${variant}`);
  const message = drain.messages[0];
  if (message === undefined) {
    throw new Error(`kombu received no ${who} message for ${variant}: ${drain.errors.join('; ') || 'queue empty'}`);
  }
  expect(drain.errors, `kombu errors after ${who}'s ${variant}`).toEqual([]);
  return message;
}

/** What a suite runs with: the peer's versions and its catalogue of variants (empty when skipped). */
export interface KombuSuite<P extends PeerInfo> {
  /** Whether the broker and the kombu peer are there: the suite runs. */
  readonly run: boolean;
  readonly peer: P;
  readonly catalogue: readonly Variant[];
  readonly variantNames: readonly string[];
  /** Variants Wakame can publish too. */
  readonly wakameVariants: readonly string[];
}

/** How to gate a suite on its broker and its kombu peer. */
export interface KombuSuiteOptions<P extends PeerInfo> {
  readonly suite: string;
  readonly broker: BrokerCheck;
  readonly runPeer: PeerRunner;
  /** The arguments of the peer's probe. */
  readonly probe: readonly string[];
  /** The Debian packages the peer needs (for the notice). */
  readonly packages: readonly string[];
  /** What the interpreter cannot do when the probe fails (for the notice). */
  readonly cannot: string;
  /** The peer of a skipped suite. */
  readonly none: P;
}

/** Whether kombu can run here: the peer's probe, or `undefined` (after a notice) when the suite is skipped. */
async function kombuGate<P extends PeerInfo>(options: KombuSuiteOptions<P>): Promise<P | undefined> {
  const { suite, packages } = options;
  try {
    return await options.runPeer<P>(options.probe, 20_000);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    if (brokersRequired()) {
      throw new Error(
        `[wakame] ${suite}: ${PYTHON} cannot run the kombu peer (${why}), and brokers are required; ` +
          `CI installs ${packages.join(' and ')} (apt-get install ${packages.join(' ')})`,
      );
    }
    process.stderr.write(`[wakame] skipping ${suite}: ${PYTHON} ${options.cannot} (${why})\n`);
    return undefined;
  }
}

/**
 * The gate of a suite, for `describe.skipIf(!suite.run)`: the broker reachable ({@link brokerGate}) and the kombu
 * peer runnable (its probe); without them the suite is skipped with a notice on stderr, or fails when brokers are
 * required. Then the peer's catalogue of variants.
 */
export async function kombuSuite<P extends PeerInfo>(options: KombuSuiteOptions<P>): Promise<KombuSuite<P>> {
  const gate = await brokerGate(options.suite, options.broker);
  const peer = gate === 'run' ? await kombuGate(options) : undefined;
  if (peer === undefined)
    return { run: false, peer: options.none, catalogue: [], variantNames: [], wakameVariants: [] };
  const catalogue = await options.runPeer<Variant[]>(['variants']);
  return {
    run: true,
    peer,
    catalogue,
    variantNames: catalogue.map((v) => v.variant),
    wakameVariants: catalogue.filter((v) => wakamePublish(v) !== undefined).map((v) => v.variant),
  };
}

/**
 * Per-variant routing: each variant travels in a queue of its own (`<base>.<direction>.<variant>`, bound with its
 * name as routing key), so that one message a side cannot parse does not hide the others. The peer derives the same
 * names with `--per-variant`.
 */
export class VariantRoutes {
  readonly exchange: Exchange;
  /** The names of the queues handed out (for clean-up). */
  readonly names = new Set<string>();

  /** `maxPriority`: of every queue, and passed to the peer as `--max-priority`. */
  constructor(
    readonly base: string,
    readonly url: string,
    private readonly options: { readonly exchange?: string; readonly maxPriority?: number } = {},
  ) {
    this.exchange = new Exchange(options.exchange ?? `${base}.x`, { type: 'direct' });
  }

  /** The queue (and routing key) name of one variant in one direction. */
  name(direction: string, variant: string): string {
    return `${this.base}.${direction}.${variant}`;
  }

  queue(direction: string, variant: string): Queue {
    const name = this.name(direction, variant);
    this.names.add(name);
    const { maxPriority } = this.options;
    return new Queue(name, {
      exchange: this.exchange,
      routingKey: name,
      ...(maxPriority === undefined ? {} : { maxPriority }),
    });
  }

  /** The peer's arguments for the queues of `direction`. */
  peerArgs(direction: string): string[] {
    const prefix = `${this.base}.${direction}`;
    const { maxPriority } = this.options;
    return [
      '--url',
      this.url,
      '--exchange',
      this.exchange.name,
      '--queue',
      prefix,
      '--routing-key',
      prefix,
      ...(maxPriority === undefined ? [] : ['--max-priority', String(maxPriority)]),
      '--per-variant',
    ];
  }

  /** The peer's `consume` of the queues of `variants` in `direction` (waiting up to 5 s for each). */
  consumeArgs(direction: string, variants: readonly string[]): string[] {
    return ['consume', ...this.peerArgs(direction), '--variants', variants.join(','), '--timeout', '5'];
  }

  /**
   * Wakame's publishes of `variants` (of `catalogue`) to their queues of `direction`: kombu's publish arguments as
   * Wakame's by `translate` (the transport's priority mapping included).
   */
  wakamePublishes(
    direction: string,
    variants: readonly string[],
    catalogue: readonly Variant[],
    translate: (variant: Variant) => Publish | undefined = wakamePublish,
  ): Publish[] {
    return variants.map((variant) => {
      const publish = translate(variantOf(catalogue, variant));
      if (publish === undefined) throw new Error(`no Wakame publish for ${variant}`);
      return { body: publish.body, options: { ...publish.options, routingKey: this.name(direction, variant) } };
    });
  }
}

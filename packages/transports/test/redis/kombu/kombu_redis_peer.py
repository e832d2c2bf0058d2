#!/usr/bin/python3
"""A Python kombu peer for Wakame's Redis interoperability tests.

Run with the system interpreter, which has Debian's python3-kombu (kombu 5.2) and python3-redis:

    /usr/bin/python3 kombu_redis_peer.py probe
    /usr/bin/python3 kombu_redis_peer.py variants
    /usr/bin/python3 kombu_redis_peer.py publish --url redis://127.0.0.1:6379/11 [--keyprefix pfx:] \
        --exchange X [--exchange-type direct|topic] --queue Q --routing-key K [--publish-key RK] \
        [--max-priority 9] [--variants a,b] [--per-variant] [--declare all|exchange|none] [--seq]
    /usr/bin/python3 kombu_redis_peer.py declare --url ... --exchange X [--exchange-type topic] --queue Q \
        --routing-key 'a.#'
    /usr/bin/python3 kombu_redis_peer.py consume --url ... --queue Q [--exchange X --routing-key K] \
        [--count N] [--timeout SECONDS] [--mode drain|get] [--per-variant --variants a,b] [--declare ...]
    /usr/bin/python3 kombu_redis_peer.py dump --url ... [--match PATTERN]
    /usr/bin/python3 kombu_redis_peer.py flush --url ...

kombu's Redis transport keeps no server-side exchange: a binding is a member
`<routing key>\\x06\\x16<pattern>\\x06\\x16<queue>` of the set `_kombu.binding.<exchange>` (the pattern is a regex
for topic exchanges, empty otherwise), and a queue is a list `<queue>` plus, for messages with priority, lists
`<queue>\\x06\\x16<step>` (step: the largest of 0, 3, 6, 9 not above the priority). Producers LPUSH the JSON
envelope {body (base64), content-type, content-encoding, headers, properties}; consumers RPOP/BRPOP the lists of
a queue in step order, so *lower* kombu priorities are consumed first. The exchange type is only known to the
connection that declared it (a publisher that did not declare an exchange routes as `direct`).

With --per-variant each variant has a queue of its own, `Q.<variant>` bound with `K.<variant>`, so that one
message a side cannot parse does not hide the others; consume then prints {variant: result}.

`publish` sends a fixed set of message variants with kombu's Producer and prints a JSON manifest of what it
sent: the publish arguments and, captured from kombu's Redis channel as it stored each message, the Redis key
and the exact JSON envelope it pushed.

`consume` reads messages with a kombu Consumer and `drain_events` (BRPOP; `--mode get` uses basic_get/RPOP),
acking each one, and prints {"messages": [...], "errors": [...]} in consumption order: per message what kombu
made of it (the decoded payload, or the decode error; content type and encoding, headers, delivery info and
properties) and the envelope as it was stored.

`dump` lists the keys of the database (TYPE, and the value: SMEMBERS sorted, list contents from head to tail,
hash fields, strings), every key and value as base64 plus its UTF-8 text when it is valid UTF-8.

The catalogue of variants, the JSON output and what the peers share are in `../../kombu-common/kombu_variants.py`
(the AMQP peer uses them too), what the peers of kombu's virtual transports share in
`../../kombu-common/kombu_peer_common.py`; this file puts that folder on `sys.path`.

Only kombu, redis (which kombu's transport uses) and the standard library are used; PyYAML and msgpack are used
when importable and reported by `probe`. No pickle anywhere: the accept lists never include it.

Values that JSON cannot hold are marked: bytes as {"$base64": "..."}, datetimes as {"$datetime": "ISO-8601"},
decimals as {"$decimal": "..."}; ints are plain JSON numbers.
"""

import functools
import pathlib
import sys
import time

import kombu  # first: a missing python3-kombu is then reported by that name

import redis
from kombu import Connection, Consumer
from kombu.transport import redis as kombu_redis
from kombu.utils.json import dumps as kombu_dumps

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'kombu-common'))
import kombu_variants as common  # noqa: E402  (found through the path set just above)
import kombu_peer_common as shared  # noqa: E402
from kombu_variants import b64, emit  # noqa: E402

#: kombu priorities of the `priority_<n>` variants.
PRIORITIES = (0, 3, 5, 6, 9)


def variant_list():
    """The shared catalogue (`kombu-common/kombu_variants.py`), with a `priority_<n>` variant per kombu priority."""
    return common.variant_list(priorities=PRIORITIES)


def raw_value(data):
    """Bytes from Redis as {"b64": ..., "text": ...} (text: the UTF-8 decoding, or None when invalid)."""
    data = bytes(data)
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        text = None
    return {'b64': b64(data), 'text': text}


# ---------------------------------------------------------------------------------------------
# Capture: what kombu's Redis channel pushes, per message, in order.

def pushed_entry(channel, queue, message):
    pri = channel._get_message_priority(message, reverse=False)
    return {
        'queue': queue,
        'key': channel.global_keyprefix + channel._q_for_pri(queue, pri),
        # kombu's own serialization of the envelope: the exact string LPUSHed.
        'raw': kombu_dumps(message),
    }


# ---------------------------------------------------------------------------------------------
# Commands


def connection(args):
    options = {}
    if args.keyprefix:
        options['global_keyprefix'] = args.keyprefix
    return Connection(args.url, connect_timeout=args.timeout, transport_options=options)


def entities(args, variant=None):
    """The exchange and queue to use; with --per-variant the queue and key get a `.<variant>` suffix."""
    return common.entities(args, variant, **queue_options(args))


def queue_options(args):
    return {'max_priority': args.max_priority} if args.max_priority else {}


def declare(args, channel, exchange, queue):
    if args.declare == 'all':
        queue(channel).declare()  # the exchange (in this connection's memory), the queue and the binding
    elif args.declare == 'exchange':
        exchange(channel).declare()


def cmd_probe(args):
    info = {'kombu': kombu.__version__, 'redis': redis.__version__}
    if args.url:
        server = redis.Redis.from_url(args.url, socket_timeout=args.timeout).info('server')
        info['redis_server'] = server.get('redis_version')
    common.emit_probe(variant_list(), **info)


def cmd_variants(_args):
    common.emit_variants(variant_list())


def cmd_declare(args):
    with connection(args) as conn:
        channel = conn.channel()
        exchange, queue = entities(args)
        declare(args, channel, exchange, queue)
    emit({'declared': args.declare, 'exchange': exchange.name, 'queue': queue.name, 'routing_key': queue.routing_key})


def cmd_publish(args):
    chosen = common.choose_variants(args, variant_list())
    if args.seq:  # the publish order, to check the consumption order against
        chosen = shared.with_seq(chosen)
    # Where kombu pushed each message (several entries when a topic exchange matched several queues).
    publish = shared.captured_publish(shared.capture_puts(kombu_redis.Channel, pushed_entry), key='pushed')
    with connection(args) as conn:
        declare_entities = functools.partial(declare, args)
        manifest = common.publish_each(
            args, chosen, conn.channel(), declare_entities, publish, args.publish_key, **queue_options(args)
        )
    emit(manifest)


def describe_message(message):
    return shared.describe_message(message, ('exchange', 'routing_key'))


def drain(args, queue, count):
    """Up to `count` messages (None: until empty / the timeout) of one queue, on a connection of its own."""
    deadline = time.monotonic() + args.timeout

    def run(received):
        with connection(args) as conn:
            channel = conn.channel()
            declare(args, channel, queue.exchange, queue)
            bound = queue(channel)
            if args.mode == 'get':
                common.get_each(bound, count, deadline, shared.ACCEPT, received, describe_message)
                return

            def on_message(message):
                received.append(describe_message(message))
                message.ack()

            def on_decode_error(message, exc):
                entry = describe_message(message)
                entry.setdefault('decode_error', common.error_text(exc))
                received.append(entry)
                message.ack()

            consumer = Consumer(
                channel,
                queues=[bound],
                accept=shared.ACCEPT,
                on_message=on_message,
                on_decode_error=on_decode_error,
                auto_declare=False,
            )
            with consumer:
                shared.drain_events(conn, received, count, deadline)

    return shared.drained(run)


def cmd_consume(args):
    common.consume(args, drain, **queue_options(args))


def cmd_dump(args):
    client = redis.Redis.from_url(args.url, socket_timeout=args.timeout)
    out = []
    for key in sorted(client.scan_iter(match=args.match, count=1000)):
        kind = client.type(key).decode('ascii')
        entry = {'key': raw_value(key), 'type': kind}
        if kind == 'set':
            entry['members'] = [raw_value(m) for m in sorted(client.smembers(key))]
        elif kind == 'list':
            entry['items'] = [raw_value(v) for v in client.lrange(key, 0, -1)]  # head (LPUSH end) first
        elif kind == 'hash':
            entry['fields'] = [
                {'field': raw_value(f), 'value': raw_value(v)} for f, v in sorted(client.hgetall(key).items())
            ]
        elif kind == 'zset':
            entry['scored'] = [
                {'member': raw_value(m), 'score': s} for m, s in client.zrange(key, 0, -1, withscores=True)
            ]
        elif kind == 'string':
            entry['value'] = raw_value(client.get(key))
        out.append(entry)
    emit(out)


def cmd_flush(args):
    client = redis.Redis.from_url(args.url, socket_timeout=args.timeout)
    client.flushdb()
    emit({'flushed': client.connection_pool.connection_kwargs.get('db', 0), 'dbsize': client.dbsize()})


def main(argv=None):
    parser, sub = shared.command_parser(__doc__)
    for name in ('dump', 'flush'):
        p = sub.add_parser(name)
        p.add_argument('--url', required=True)
        p.add_argument('--timeout', type=float, default=5.0)
        if name == 'dump':
            p.add_argument('--match', default='*', help='SCAN MATCH pattern')
    for name in ('publish', 'consume', 'declare'):
        p = sub.add_parser(name)
        common.add_queue_arguments(p, 'redis://127.0.0.1:6379/0', name)
        p.add_argument('--keyprefix', default='', help="kombu's global_keyprefix transport option")
        p.add_argument('--exchange-type', default='direct', choices=('direct', 'topic', 'fanout'))
        p.add_argument('--max-priority', type=int, default=9, help='x-max-priority of the queue (0: none)')
        p.add_argument(
            '--declare',
            default='all',
            choices=('all', 'exchange', 'none'),
            help='what to declare first: the exchange, the queue and the binding (all), the exchange only, nothing',
        )
        if name == 'publish':
            p.add_argument('--publish-key', help='routing key to publish with (default: the binding key)')
            p.add_argument('--seq', action='store_true', help="add an 'x-seq' header: the message's publish index")
        if name == 'consume':
            p.add_argument('--mode', default='drain', choices=('drain', 'get'))
    shared.run_command(
        parser,
        argv,
        probe=cmd_probe,
        variants=cmd_variants,
        publish=cmd_publish,
        declare=cmd_declare,
        consume=cmd_consume,
        dump=cmd_dump,
        flush=cmd_flush,
    )


if __name__ == '__main__':
    main()

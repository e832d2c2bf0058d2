"""What the kombu peers of the brokers without server-side exchanges share: `redis/kombu/kombu_redis_peer.py`,
`sql/kombu/kombu_sql_peer.py` and `zookeeper/kombu/kombu_zk_peer.py`, all on one of kombu's virtual transports.

A virtual transport's channel stores each message with `_put(queue, message)` (kombu's JSON envelope) and hands the
stored envelope back as the message's `_raw`: so the peers capture what was stored the same way, report a received
message the same way, and drain a queue the same way. What differs (what `_put` wrote, the consumer's options, the
broker's own commands) stays in each peer.

Each peer puts this folder on `sys.path`, relative to its own file, and imports this module after kombu (as it
imports `kombu_variants.py`, the catalogue and JSON output shared with the AMQP peer too).
"""

import copy
import json
import time

import kombu_variants as common
from kombu import Connection

#: What the peers' consumers accept: every serializer of the catalogue, never pickle.
ACCEPT = ['json', 'yaml', 'msgpack', 'text/plain', 'application/data']


def command_parser(doc):
    """The parser of a peer (`kombu_variants.command_parser`: `variants`) with `probe` added: the versions, and the
    broker's with `--url`."""
    parser, sub = common.command_parser(doc)
    probe = sub.add_parser('probe', help='print versions (and the server version with --url)')
    probe.add_argument('--url')
    probe.add_argument('--timeout', type=float, default=5.0)
    return parser, sub


def run_command(parser, argv, **commands):
    """Runs the command `argv` names: `commands` names each command's function of the parsed arguments, `variants`
    (the shared catalogue) unless the peer has its own."""
    args = parser.parse_args(argv)
    commands = {'variants': lambda _args: common.emit_variants(common.variant_list()), **commands}
    commands[args.command](args)


def polling_connection(args):
    """A kombu Connection to `--url` that polls its queues every 50 ms: kombu's virtual transports poll every second
    by default, too slow for short tests. Not a transport option: the SQLAlchemy transport hands every transport
    option to `create_engine`, which refuses unknown ones."""
    conn = Connection(args.url, connect_timeout=args.timeout)
    conn.transport.polling_interval = 0.05
    return conn


def declare_queue(channel, _exchange, queue):
    """The `declare` of `kombu_variants.publish_each` where the broker keeps queues only (a table row, a znode):
    the exchange and the binding live in this connection's memory alone."""
    queue(channel).declare()


def capture_puts(channel_class, record):
    """Wraps `channel_class._put` so that each message it stores is appended, as `record(channel, queue, message)`
    describes it, to the list returned: what the broker received, in order (a peer runs one command per process)."""
    stored = []
    original = channel_class._put

    def capture(self, queue, message, **kwargs):
        stored.append(record(self, queue, message))
        return original(self, queue, message, **kwargs)

    channel_class._put = capture
    return stored


def captured_publish(stored, key='stored'):
    """The `publish(producer, body, kwargs)` of `kombu_variants.publish_each`: publishes, then reports what `_put`
    appended to `stored` for it (under `key`; several entries when the exchange routed it to several queues) and the
    first one's envelope."""

    def publish(producer, body, kwargs):
        before = len(stored)
        producer.publish(body, **copy.deepcopy(kwargs))  # kombu adds `compression` to the headers it is given
        new = stored[before:]
        return {key: new, 'envelope': json.loads(new[0]['raw']) if new else None}

    return publish


def with_seq(chosen):
    """The `chosen` variants with an 'x-seq' header: each one's publish index, to check the consumption order by."""
    return [(n, b, {**k, 'headers': {**k.get('headers', {}), 'x-seq': i}}) for i, (n, b, k) in enumerate(chosen)]


def describe_message(message, delivery_keys):
    """What kombu made of `message` (see `kombu_variants.describe_message`), with the envelope as it was stored (the
    body still base64 and compressed), and its payload or why kombu could not decode it."""
    entry = common.describe_message(message, delivery_keys, envelope=getattr(message, '_raw', None))
    if message.errors:
        entry['decode_error'] = common.error_text(message.errors[0][1])
        return entry
    return common.with_payload(entry, message)  # deserializes (the body was decompressed on construction)


def drain_events(conn, received, count, deadline):
    """`conn.drain_events` until `received` (which the consumer's callback fills) holds `count` messages, or, with
    `count` None, until a second passes without one; never past `deadline` (a `time.monotonic()`)."""
    while count is None or len(received) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            conn.drain_events(timeout=min(remaining, 1.0))
        except TimeoutError:  # also socket.timeout, its alias since Python 3.10
            if count is None:
                break


def drained(run):
    """{"messages": [...], "errors": [...]} of `run(received)`, which appends what it receives: an exception is
    reported after the messages, not raised, so that it does not hide what was received before it."""
    received = []
    errors = []
    try:
        run(received)
    except Exception as exc:
        errors.append(common.error_text(exc))
    return {'messages': received, 'errors': errors}

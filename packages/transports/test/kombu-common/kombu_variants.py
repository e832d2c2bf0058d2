"""What Wakame's kombu interop peers have in common (`amqp/kombu/kombu_peer.py`, `redis/kombu/kombu_redis_peer.py`).

Each peer puts this folder on `sys.path`, relative to its own file, and imports this module after kombu: the
catalogue of message variants both transports exchange, the JSON output, the variant selection, what a peer reports
of a message kombu received, and the command-line pieces the peers share.

Values that JSON cannot hold are marked: bytes as {"$base64": "..."}, datetimes as {"$datetime": "ISO-8601"},
decimals as {"$decimal": "..."}; ints are plain JSON numbers.
"""

import argparse
import base64
import datetime
import decimal
import json
import sys
import time

from kombu import Exchange, Producer, Queue

try:
    import msgpack  # noqa: F401  (only its presence matters: kombu imports it itself)

    HAVE_MSGPACK = True
except ImportError:
    HAVE_MSGPACK = False

try:
    import yaml  # noqa: F401

    HAVE_YAML = True
except ImportError:
    HAVE_YAML = False

# Header values of every AMQP field type kombu (py-amqp) writes: S, I, L (2**40), d, t, V, A, F.
HEADERS_OF_EVERY_TYPE = {
    'x-str': 'héllo',
    'x-int': 42,
    'x-big': 2**40,
    'x-neg': -7,
    'x-float': 1.5,
    'x-bool': True,
    'x-none': None,
    'x-list': [1, 'two'],
    'x-table': {'k': 'v'},
}

# py-amqp writes the timestamp property from an int of epoch seconds (a datetime is refused).
FIXED_TIMESTAMP = int(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc).timestamp())

# The message properties a peer reports of every message it received.
PROPERTY_NAMES = (
    'delivery_mode',
    'priority',
    'expiration',
    'correlation_id',
    'reply_to',
    'message_id',
    'timestamp',
    'type',
    'app_id',
    'user_id',
)


def variant_list(edge_int_headers=None, priorities=()):
    """(name, body, publish kwargs) of every variant; names match the AMQP fixture file where it has them.

    `edge_int_headers` adds `json_edge_ints`, published with these headers; `priorities` adds a `priority_<n>`
    variant per kombu priority n.
    """
    variants = [
        # The first five are exactly the AMQP fixture's (kombu_amqp_wire_format.json) publish calls.
        (
            'json_headers_and_properties',
            {'n': 0, 'text': 'kombu message 0 ✓'},
            {
                'serializer': 'json',
                'priority': 5,
                'correlation_id': 'corr-1',
                'reply_to': 'reply.queue',
                'expiration': 60,
                'headers': dict(HEADERS_OF_EVERY_TYPE),
            },
        ),
        (
            'json_zlib',
            {'n': 1, 'text': 'kombu message 1 ✓'},
            {'serializer': 'json', 'compression': 'zlib', 'headers': {'x-example': 'header'}},
        ),
        ('json_gzip_alias', {'n': 2, 'text': 'kombu message 2 ✓'}, {'serializer': 'json', 'compression': 'gzip'}),
        ('str_body', 'plain text ✓', {}),
        ('bytes_body', b'\x00\x01binary\xff', {}),
        # Beyond the fixture.
        (
            'json_all_properties',
            {'n': 5, 'list': [1, 2.5, None, True], 'nested': {'a': {'b': 'c'}}},
            {
                'serializer': 'json',
                'message_id': 'msg-5',
                'correlation_id': 'corr-5',
                'reply_to': 'replies',
                'timestamp': FIXED_TIMESTAMP,
                'type': 'kombu.test',
                'app_id': 'kombu-peer',
                'priority': 9,
                'expiration': 120.5,
                'headers': {'x-kind': 'all-properties'},
            },
        ),
        ('json_transient', {'n': 6}, {'serializer': 'json', 'delivery_mode': 1}),
    ]
    if edge_int_headers is not None:
        variants.append(('json_edge_ints', {'n': 7}, {'serializer': 'json', 'headers': dict(edge_int_headers)}))
    variants += [
        (
            'json_unicode',
            {'n': 9, 'text': '日本語 ✓ émoji 🍣 \u0000 "quoted" \\ back', 'key ✓': 'value'},
            {'serializer': 'json'},
        ),
        ('str_unicode', 'Grüße 🍣 日本語', {}),
        # Compressions kombu has in the Python standard library (Wakame's are optional dependencies).
        ('json_bzip2', {'n': 11, 'text': 'bzip2 ✓'}, {'serializer': 'json', 'compression': 'bzip2'}),
        ('json_lzma', {'n': 12, 'text': 'lzma ✓'}, {'serializer': 'json', 'compression': 'lzma'}),
    ]
    for priority in priorities:
        body = {'n': 100 + priority, 'priority': priority}
        variants.append((f'priority_{priority}', body, {'serializer': 'json', 'priority': priority}))
    if HAVE_YAML:
        variants.append(
            (
                'yaml',
                # 'yes' is a boolean to YAML 1.1 readers (PyYAML) unless quoted.
                {'n': 8, 'text': 'yaml ✓', 'list': [1, 'two', 3.5], 'flag': True, 'none': None, 'word': 'yes'},
                {'serializer': 'yaml'},
            )
        )
    if HAVE_MSGPACK:
        variants.append(
            (
                'msgpack',
                {'n': 10, 'text': 'msgpack ✓', 'bin': b'\x00\xff', 'big': 2**40, 'list': [1, -2, 3.5]},
                {'serializer': 'msgpack'},
            )
        )
    return variants


def choose_variants(args, catalogue):
    """The variants of `--variants` (all of `catalogue` without it), in that order."""
    wanted = args.variants.split(',') if args.variants else None
    if wanted is None:
        return catalogue
    known = {name: (name, body, kwargs) for name, body, kwargs in catalogue}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SystemExit(f'unknown or unavailable variants: {", ".join(unknown)}')
    return [known[name] for name in wanted]


# ---------------------------------------------------------------------------------------------
# JSON output


def to_json(value):
    """A JSON-safe copy of `value`, with bytes/datetime/decimal marked (see the module docstring)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {'$base64': b64(bytes(value))}
    if isinstance(value, datetime.datetime):
        return {'$datetime': value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {'$decimal': str(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    return value


def emit(value):
    sys.stdout.write(json.dumps(to_json(value), ensure_ascii=False, sort_keys=False))
    sys.stdout.write('\n')
    sys.stdout.flush()


def b64(data):
    return base64.b64encode(data).decode('ascii')


def emit_probe(catalogue, **versions):
    """`probe`: the versions (kombu's and the transport library's), the optional serializers, the variant names."""
    emit(
        {
            **versions,
            'python': sys.version.split()[0],
            'msgpack': HAVE_MSGPACK,
            'yaml': HAVE_YAML,
            'variants': [name for name, _, _ in catalogue],
        }
    )


def emit_variants(catalogue):
    """`variants`: every variant with its body and publish arguments."""
    emit([{'variant': n, 'published_body': b, 'publish_kwargs': k} for n, b, k in catalogue])


# ---------------------------------------------------------------------------------------------
# Queues and received messages


def entities(args, variant=None, **queue_options):
    """The exchange (of type --exchange-type, where the peer has it) and queue to use; with --per-variant the queue
    and key get a `.<variant>` suffix."""
    suffix = f'.{variant}' if args.per_variant and variant is not None else ''
    exchange = Exchange(args.exchange, type=getattr(args, 'exchange_type', 'direct'), durable=True)
    routing_key = args.routing_key + suffix
    queue = Queue(args.queue + suffix, exchange=exchange, routing_key=routing_key, durable=True, **queue_options)
    return exchange, queue


def publish_each(args, chosen, channel, declare, publish, routing_key=None, **queue_options):
    """Publishes the `chosen` variants with kombu Producers and returns the manifest of what was sent.

    Each goes to the exchange of its queue (`entities`), declared by `declare(channel, exchange, queue)` once per
    queue first, with `routing_key` (default: the queue's binding key); `publish(producer, body, kwargs)` publishes
    it and returns what the manifest reports of the wire.
    """
    manifest = []
    declared = set()
    for name, body, kwargs in chosen:
        exchange, queue = entities(args, name, **queue_options)
        if queue.name not in declared:
            declare(channel, exchange, queue)
            declared.add(queue.name)
        key = routing_key if routing_key is not None else queue.routing_key
        producer = Producer(channel, exchange=exchange, routing_key=key, auto_declare=False)
        sent = {'variant': name, 'queue': queue.name, 'routing_key': key, 'published_body': body}
        manifest.append({**sent, 'publish_kwargs': kwargs, **publish(producer, body, kwargs)})
    return manifest


def error_text(exc):
    return f'{type(exc).__name__}: {exc}'


def describe_message(message, delivery_keys, **wire):
    """What kombu made of `message` (content labels, headers, delivery info, properties), plus `wire`."""
    props = message.properties
    return {
        'content_type': message.content_type,
        'content_encoding': message.content_encoding,
        'headers': message.headers,
        'delivery_info': {k: message.delivery_info.get(k) for k in delivery_keys},
        'properties': {k: props.get(k) for k in PROPERTY_NAMES},
        'all_property_names': sorted(props.keys()),
        **wire,
    }


def with_payload(entry, message):
    """`entry` with kombu's decoding of `message`: its `payload`, or its `decode_error`."""
    try:
        entry['payload'] = message.decode()
    except Exception as exc:  # kept per message so one bad message does not hide the others
        entry['decode_error'] = error_text(exc)
    return entry


def get_each(bound, count, deadline, accept, received, describe):
    """basic.get (acking each) into `received` until it holds `count` (None: until empty); waits up to `deadline`."""
    while count is None or len(received) < count:
        message = bound.get(no_ack=False, accept=accept)
        if message is None:
            if count is None or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
            continue
        received.append(describe(message))
        message.ack()


def consume(args, drain, **queue_options):
    """`consume`: `drain(args, queue, count)` of the queue, or with --per-variant of each variant's queue."""
    if not args.per_variant:
        emit(drain(args, entities(args, None, **queue_options)[1], args.count))
        return
    if not args.variants:
        raise SystemExit('consume --per-variant needs --variants')
    # Not choose_variants: a peer without msgpack can still report what arrives on a msgpack queue.
    emit(
        {
            name: drain(args, entities(args, name, **queue_options)[1], args.count or 1)
            for name in args.variants.split(',')
        }
    )


# ---------------------------------------------------------------------------------------------
# Command line


def command_parser(doc):
    """The parser of a peer (described by the first paragraph of `doc`) and its subparsers, `variants` added."""
    parser = argparse.ArgumentParser(description=doc.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('variants', help='print the message variants publish sends')
    return parser, sub


def add_queue_arguments(p, default_url, command):
    """The arguments `publish` and `consume` (`command`) share: the broker, the entities, the variants."""
    p.add_argument('--url', default=default_url)
    p.add_argument('--exchange', required=True)
    p.add_argument('--queue', required=True)
    p.add_argument('--routing-key', required=True, help='binding key of the queue')
    p.add_argument('--timeout', type=float, default=10.0, help='seconds (connect, and consume polling)')
    p.add_argument(
        '--per-variant',
        action='store_true',
        help='one queue per variant: QUEUE.<variant>, bound with ROUTING_KEY.<variant>',
    )
    p.add_argument('--variants', help='comma-separated variant names (publish default: all)')
    if command == 'consume':
        p.add_argument(
            '--count',
            type=int,
            help='stop after this many messages per queue (default: until empty; 1 with --per-variant)',
        )

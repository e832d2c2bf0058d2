#!/usr/bin/python3
"""A Python kombu peer for Wakame's AMQP interoperability tests.

Run with the system interpreter, which has Debian's python3-kombu (kombu 5.2, py-amqp 5.1):

    /usr/bin/python3 kombu_peer.py probe
    /usr/bin/python3 kombu_peer.py variants
    /usr/bin/python3 kombu_peer.py publish --url amqp://guest:guest@127.0.0.1:5672// \
        --exchange X --queue Q --routing-key K [--variants a,b] [--per-variant] [--no-declare]
    /usr/bin/python3 kombu_peer.py consume --url ... --exchange X --queue Q --routing-key K \
        [--count N] [--timeout SECONDS] [--per-variant --variants a,b] [--no-declare]

With --per-variant each variant has a queue of its own, `Q.<variant>` bound with `K.<variant>`, so that
one message a side cannot parse does not hide the others; consume then prints {variant: result}.

`publish` sends a fixed set of message variants with kombu's Producer and prints a JSON manifest
of what it sent: the publish arguments and, captured from py-amqp as it framed each message, the
AMQP properties and the exact bytes of the property list and the body.

`consume` drains the queue with kombu (basic.get, acking each message) and prints
{"messages": [...], "errors": [...]}: per message what kombu made of it (the decoded payload, or
the decode error; content type and encoding, headers, delivery info and properties) plus the raw
property bytes, the raw body and the type tag of every top-level header as they arrived on the
wire; `errors` holds what stopped the draining (e.g. a header table py-amqp cannot parse).

Only kombu and the standard library are used; msgpack is used when importable and reported by
`probe`. No pickle anywhere: the accept lists never include it.

Values that JSON cannot hold are marked: bytes as {"$base64": "..."}, datetimes as
{"$datetime": "ISO-8601"}, decimals as {"$decimal": "..."}; ints are plain JSON numbers.
"""

import argparse
import base64
import datetime
import decimal
import json
import struct
import sys
import time

import kombu  # first: a missing python3-kombu is then reported by that name

import amqp.basic_message
from kombu import Connection, Exchange, Producer, Queue

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

# Everything the peer can decode. Content types rather than serializer names so that text/plain
# and application/data (kombu's "raw" wire forms, which have no serializer name) can be listed.
ACCEPT = ['application/json', 'text/plain', 'application/data', 'application/x-yaml', 'application/x-msgpack']

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

# Integers at the edges of the AMQP integer field types; py-amqp writes 'I' (int32) or 'L' (int64).
HEADERS_OF_EDGE_INTS = {
    'x-zero': 0,
    'x-short': 1000,
    'x-neg-short': -1000,
    'x-int32-max': 2**31 - 1,
    'x-int32-min': -(2**31) + 1,
    'x-int32-over': 2**31,
    'x-neg-big': -(2**40),
    'x-int53-max': 2**53 - 1,
    'x-nested': {'a': {'b': [1, {'c': None}], 'd': -2.25}, 'e': [[True, False], []]},
}

# py-amqp writes the timestamp property from an int of epoch seconds (a datetime is refused).
FIXED_TIMESTAMP = int(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc).timestamp())


def variant_list():
    """(name, body, publish kwargs) of every variant; names match the fixture file where it has them."""
    variants = [
        # The first five are exactly the fixture's (kombu_amqp_wire_format.json) publish calls.
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
        ('json_edge_ints', {'n': 7}, {'serializer': 'json', 'headers': dict(HEADERS_OF_EDGE_INTS)}),
        (
            'json_unicode',
            {'n': 9, 'text': '日本語 ✓ émoji 🍣 \u0000 "quoted" \\ back', 'key ✓': 'value'},
            {'serializer': 'json'},
        ),
        ('str_unicode', 'Grüße 🍣 日本語', {}),
        # A compression kombu has in the standard library and Wakame does not.
        ('json_bzip2', {'n': 11, 'text': 'bzip2 ✓'}, {'serializer': 'json', 'compression': 'bzip2'}),
    ]
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


# ---------------------------------------------------------------------------------------------
# JSON output


def to_json(value):
    """A JSON-safe copy of `value`, with bytes/datetime/decimal marked (see the module docstring)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {'$base64': base64.b64encode(bytes(value)).decode('ascii')}
    if isinstance(value, datetime.datetime):
        return {'$datetime': value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {'$decimal': str(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def emit(value):
    sys.stdout.write(json.dumps(to_json(value), ensure_ascii=False, sort_keys=False))
    sys.stdout.write('\n')
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Wire capture: py-amqp serializes and parses the property list of every content header here.

_captured = []  # publish: what py-amqp framed, in order


def _install_publish_capture():
    original = amqp.basic_message.Message._serialize_properties

    def capture(self):
        raw = original(self)
        body = self.body
        if isinstance(body, str):
            body = body.encode(self.properties.get('content_encoding') or 'utf-8')
        _captured.append({'properties': dict(self.properties), 'raw': raw, 'body': bytes(body)})
        return raw

    amqp.basic_message.Message._serialize_properties = capture


# consume: per inbound message, in arrival order, its raw property list and its body as it travelled (kombu's
# Message keeps neither: it decompresses the body on construction, and py-amqp may have decoded it to str).
_inbound = []


def _install_consume_capture():
    """Records the raw property bytes and raw body of every inbound message in `_inbound`."""
    load_properties = amqp.basic_message.Message._load_properties
    inbound_body = amqp.basic_message.Message.inbound_body

    def capture_properties(self, class_id, buf, offset):
        end = load_properties(self, class_id, buf, offset)
        _inbound.append({'raw': bytes(buf[offset:end]), 'body': b''})
        return end

    def capture_body(self, buf):
        inbound_body(self, buf)
        if self.ready and _inbound:
            _inbound[-1]['body'] = bytes(self.body)

    amqp.basic_message.Message._load_properties = capture_properties
    amqp.basic_message.Message.inbound_body = capture_body


# Value sizes of the field types, as RabbitMQ and the AMQP 0-9-1 errata define them (py-amqp's
# own reading of 'b', 'B', 's' and 'l' differs, which is exactly what the tags are for).
_FIXED_SIZES = {'t': 1, 'b': 1, 'B': 1, 's': 2, 'u': 2, 'I': 4, 'i': 4, 'l': 8, 'L': 8, 'f': 4, 'd': 8, 'D': 5, 'T': 8}
_LENGTH_PREFIXED = {'S', 'x', 'F', 'A'}


def header_type_tags(raw):
    """The field type tag of each top-level application header in a raw basic property list."""
    if not raw or len(raw) < 2:
        return {}
    flags = struct.unpack_from('>H', raw, 0)[0]
    offset = 2
    for bit in (0x8000, 0x4000):  # content_type, content_encoding: shortstr
        if flags & bit:
            offset += 1 + raw[offset]
    if not flags & 0x2000:
        return {}
    table_len = struct.unpack_from('>I', raw, offset)[0]
    offset += 4
    end = offset + table_len
    tags = {}
    while offset < end:
        key_len = raw[offset]
        key = raw[offset + 1 : offset + 1 + key_len].decode('utf-8', 'replace')
        offset += 1 + key_len
        tag = chr(raw[offset])
        offset += 1
        tags[key] = tag
        if tag in _FIXED_SIZES:
            offset += _FIXED_SIZES[tag]
        elif tag in _LENGTH_PREFIXED:
            offset += 4 + struct.unpack_from('>I', raw, offset)[0]
        elif tag == 'V':
            pass
        else:  # unknown tag: the rest cannot be walked
            tags['$unparsed'] = tag
            break
    return tags


# ---------------------------------------------------------------------------------------------
# Commands


def entities(args, variant=None):
    """The exchange and queue to use; with --per-variant the queue and key get a `.<variant>` suffix."""
    suffix = f'.{variant}' if args.per_variant and variant is not None else ''
    exchange = Exchange(args.exchange, type='direct', durable=True)
    queue = Queue(args.queue + suffix, exchange=exchange, routing_key=args.routing_key + suffix, durable=True)
    return exchange, queue


def choose_variants(args):
    wanted = args.variants.split(',') if args.variants else None
    catalogue = variant_list()
    if wanted is None:
        return catalogue
    known = {name: (name, body, kwargs) for name, body, kwargs in catalogue}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SystemExit(f'unknown or unavailable variants: {", ".join(unknown)}')
    return [known[name] for name in wanted]


def cmd_probe(_args):
    emit(
        {
            'kombu': kombu.__version__,
            'amqp': amqp.__version__,
            'python': sys.version.split()[0],
            'msgpack': HAVE_MSGPACK,
            'yaml': HAVE_YAML,
            'variants': [name for name, _, _ in variant_list()],
        }
    )


def cmd_variants(_args):
    emit([{'variant': n, 'published_body': b, 'publish_kwargs': k} for n, b, k in variant_list()])


def cmd_publish(args):
    chosen = choose_variants(args)
    _install_publish_capture()
    manifest = []
    with Connection(args.url, connect_timeout=args.timeout) as conn:
        channel = conn.channel()
        declared = set()
        for name, body, kwargs in chosen:
            exchange, queue = entities(args, name)
            if not args.no_declare and queue.name not in declared:
                queue(channel).declare()  # declares the exchange, the queue and the binding
                declared.add(queue.name)
            producer = Producer(channel, exchange=exchange, routing_key=queue.routing_key, auto_declare=False)
            before = len(_captured)
            producer.publish(body, **kwargs)
            wire = _captured[before] if len(_captured) > before else None
            manifest.append(
                {
                    'variant': name,
                    'queue': queue.name,
                    'routing_key': queue.routing_key,
                    'published_body': body,
                    'publish_kwargs': kwargs,
                    'properties': wire and wire['properties'],
                    'raw_properties_b64': wire and base64.b64encode(wire['raw']).decode('ascii'),
                    'header_type_tags': wire and header_type_tags(wire['raw']),
                    'body_b64': wire and base64.b64encode(wire['body']).decode('ascii'),
                }
            )
    emit(manifest)


def describe_message(message, wire):
    raw = wire and wire['raw']
    props = message.properties
    entry = {
        'content_type': message.content_type,
        'content_encoding': message.content_encoding,
        'headers': message.headers,
        'delivery_info': {
            k: message.delivery_info.get(k)
            for k in ('exchange', 'routing_key', 'redelivered', 'delivery_tag', 'message_count')
        },
        'properties': {
            k: props.get(k)
            for k in (
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
        },
        'all_property_names': sorted(props.keys()),
        'raw_properties_b64': raw and base64.b64encode(raw).decode('ascii'),
        'header_type_tags': header_type_tags(raw),
        # The body as it travelled (compressed, if it was); `payload` is what kombu made of it.
        'body_b64': wire and base64.b64encode(wire['body']).decode('ascii'),
    }
    try:
        entry['payload'] = message.decode()  # decompresses (compression header) and deserializes
    except Exception as exc:  # kept per message so one bad message does not hide the others
        entry['decode_error'] = f'{type(exc).__name__}: {exc}'
    return entry


def drain(args, queue, count):
    """Up to `count` messages (None: until empty) of one queue, on a connection of its own."""
    received = []
    errors = []
    deadline = time.monotonic() + args.timeout
    _inbound.clear()
    try:
        with Connection(args.url, connect_timeout=args.timeout) as conn:
            bound = queue(conn.channel())
            if not args.no_declare:
                bound.declare()
            while count is None or len(received) < count:
                message = bound.get(no_ack=False, accept=ACCEPT)
                if message is None:
                    if count is None or time.monotonic() >= deadline:
                        break
                    time.sleep(0.05)
                    continue
                # basic.get fetches one message at a time, so the last one seen on the wire is this one.
                wire = _inbound[-1] if _inbound else None
                _inbound.clear()
                received.append(describe_message(message, wire))
                message.ack()
    except Exception as exc:  # e.g. a header table py-amqp cannot parse: report it, do not hide the rest
        errors.append(f'{type(exc).__name__}: {exc}')
    return {'messages': received, 'errors': errors}


def cmd_consume(args):
    _install_consume_capture()
    if not args.per_variant:
        emit(drain(args, entities(args)[1], args.count))
        return
    if not args.variants:
        raise SystemExit('consume --per-variant needs --variants')
    # Not choose_variants: a peer without msgpack can still report what arrives on a msgpack queue.
    emit({name: drain(args, entities(args, name)[1], args.count or 1) for name in args.variants.split(',')})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('probe', help='print versions and which optional serializers are available')
    sub.add_parser('variants', help='print the message variants publish sends')
    for name in ('publish', 'consume'):
        p = sub.add_parser(name)
        p.add_argument('--url', default='amqp://guest:guest@127.0.0.1:5672//')
        p.add_argument('--exchange', required=True)
        p.add_argument('--queue', required=True)
        p.add_argument('--routing-key', required=True)
        p.add_argument('--timeout', type=float, default=10.0, help='seconds (connect, and consume polling)')
        p.add_argument('--no-declare', action='store_true', help='do not declare the exchange/queue/binding')
        p.add_argument(
            '--per-variant',
            action='store_true',
            help='one queue per variant: QUEUE.<variant>, bound with ROUTING_KEY.<variant>',
        )
        p.add_argument('--variants', help='comma-separated variant names (publish default: all)')
        if name == 'consume':
            p.add_argument(
                '--count',
                type=int,
                help='stop after this many messages per queue (default: drain until empty; 1 with --per-variant)',
            )
    args = parser.parse_args(argv)
    {'probe': cmd_probe, 'variants': cmd_variants, 'publish': cmd_publish, 'consume': cmd_consume}[args.command](
        args
    )


if __name__ == '__main__':
    main()

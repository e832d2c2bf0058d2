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

The catalogue of variants, the JSON output and what the peers share are in
`../../kombu-common/kombu_variants.py` (the Redis peer uses them too), which this file puts on `sys.path`.

Only kombu and the standard library are used; msgpack is used when importable and reported by
`probe`. No pickle anywhere: the accept lists never include it.

Values that JSON cannot hold are marked: bytes as {"$base64": "..."}, datetimes as
{"$datetime": "ISO-8601"}, decimals as {"$decimal": "..."}; ints are plain JSON numbers.
"""

import pathlib
import struct
import sys
import time

import kombu  # first: a missing python3-kombu is then reported by that name

import amqp.basic_message
from kombu import Connection

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'kombu-common'))
import kombu_variants as common  # noqa: E402  (found through the path set just above)
from kombu_variants import b64, emit  # noqa: E402

# Everything the peer can decode. Content types rather than serializer names so that text/plain
# and application/data (kombu's "raw" wire forms, which have no serializer name) can be listed.
ACCEPT = ['application/json', 'text/plain', 'application/data', 'application/x-yaml', 'application/x-msgpack']

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


def variant_list():
    """The shared catalogue (`kombu-common/kombu_variants.py`), with the AMQP integer field type edges."""
    return common.variant_list(edge_int_headers=HEADERS_OF_EDGE_INTS)


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


def cmd_probe(_args):
    common.emit_probe(variant_list(), kombu=kombu.__version__, amqp=amqp.__version__)


def cmd_variants(_args):
    common.emit_variants(variant_list())


def cmd_publish(args):
    chosen = common.choose_variants(args, variant_list())
    _install_publish_capture()

    def declare(channel, _exchange, queue):
        if not args.no_declare:
            queue(channel).declare()  # declares the exchange, the queue and the binding

    def publish(producer, body, kwargs):
        before = len(_captured)
        producer.publish(body, **kwargs)
        wire = _captured[before] if len(_captured) > before else None
        return {
            'properties': wire and wire['properties'],
            'raw_properties_b64': wire and b64(wire['raw']),
            'header_type_tags': wire and header_type_tags(wire['raw']),
            'body_b64': wire and b64(wire['body']),
        }

    with Connection(args.url, connect_timeout=args.timeout) as conn:
        emit(common.publish_each(args, chosen, conn.channel(), declare, publish))


def describe_message(message, wire):
    raw = wire and wire['raw']
    entry = common.describe_message(
        message,
        ('exchange', 'routing_key', 'redelivered', 'delivery_tag', 'message_count'),
        raw_properties_b64=raw and b64(raw),
        header_type_tags=header_type_tags(raw),
        # The body as it travelled (compressed, if it was); `payload` is what kombu made of it.
        body_b64=wire and b64(wire['body']),
    )
    return common.with_payload(entry, message)  # decompresses (compression header) and deserializes


def describe_last(message):
    """`message` with its wire form: basic.get fetches one message at a time, so the last one seen is this one."""
    wire = _inbound[-1] if _inbound else None
    _inbound.clear()
    return describe_message(message, wire)


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
            common.get_each(bound, count, deadline, ACCEPT, received, describe_last)
    except Exception as exc:  # e.g. a header table py-amqp cannot parse: report it, do not hide the rest
        errors.append(common.error_text(exc))
    return {'messages': received, 'errors': errors}


def cmd_consume(args):
    _install_consume_capture()
    common.consume(args, drain)


def main(argv=None):
    parser, sub = common.command_parser(__doc__)
    sub.add_parser('probe', help='print versions and which optional serializers are available')
    for name in ('publish', 'consume'):
        p = sub.add_parser(name)
        common.add_queue_arguments(p, 'amqp://guest:guest@127.0.0.1:5672//', name)
        p.add_argument('--no-declare', action='store_true', help='do not declare the exchange/queue/binding')
    args = parser.parse_args(argv)
    {'probe': cmd_probe, 'variants': cmd_variants, 'publish': cmd_publish, 'consume': cmd_consume}[args.command](
        args
    )


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""A Python kombu peer for Wakame's kombu interop tests on a database (kombu's SQLAlchemy transport).

Run with the system interpreter, which has Debian's python3-kombu (kombu 5.2), python3-sqlalchemy (1.4),
python3-psycopg2 and python3-pymysql:

    /usr/bin/python3 kombu_sql_peer.py probe --url sqla+postgresql://postgres@127.0.0.1/wakame_test
    /usr/bin/python3 kombu_sql_peer.py variants
    /usr/bin/python3 kombu_sql_peer.py publish --url URL --exchange X --queue Q --routing-key K \
        [--variants a,b] [--per-variant] [--seq]
    /usr/bin/python3 kombu_sql_peer.py consume --url URL --exchange X --queue Q --routing-key K \
        [--count N] [--timeout SECONDS] [--mode drain|get|requeue] [--per-variant --variants a,b]
    /usr/bin/python3 kombu_sql_peer.py rows --url URL

URLs are kombu's: `sqla+postgresql://user@host/db?options=-csearch_path%3D<schema>` (the schema of the tables),
`sqla+mysql+pymysql://user@host/db`.

kombu's SQLAlchemy transport keeps no exchange in the database: a binding lives in the memory of the connection that
declared it, and a publish is resolved there into a row of `kombu_message` (payload: kombu's JSON envelope, the same
as a Redis list element) for each queue of `kombu_queue` it routes to. `_get` takes the oldest visible row
(`SELECT … FOR UPDATE`), sets `visible` to false and commits before the message is handed out; an ack deletes
nothing, and a requeue (or a closed channel's unacked message) inserts a copy with `"redelivered": true`.

`publish` prints the manifest of what it sent, with the exact payload kombu's `_put` stored (captured from the
channel). `consume` prints {"messages": [...], "errors": [...]} as the Redis peer does (`--mode requeue`: each
message is requeued once instead of acked). `rows` prints every row of `kombu_message` with its queue's name.

The catalogue of variants and the JSON output are in `../../kombu-common/kombu_variants.py`, what the peers of kombu's
virtual transports share in `../../kombu-common/kombu_peer_common.py`.
"""

import json
import pathlib
import sys
import time

import kombu  # first: a missing python3-kombu is then reported by that name

import sqlalchemy
from kombu import Consumer
from kombu.transport import sqlalchemy as kombu_sqla

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'kombu-common'))
import kombu_variants as common  # noqa: E402  (found through the path set just above)
import kombu_peer_common as shared  # noqa: E402
from kombu_variants import emit  # noqa: E402


def stored_row(_channel, queue, payload):
    return {'queue': queue, 'raw': json.dumps(payload)}  # what `_put` writes: json.dumps(payload)


connection = shared.polling_connection
declare = shared.declare_queue


def cmd_probe(args):
    info = {'kombu': kombu.__version__, 'sqlalchemy': sqlalchemy.__version__}
    if args.url:
        driver = args.url.split('+', 1)[1].split(':', 1)[0]
        if 'pymysql' in driver:
            import pymysql  # noqa: F401
        else:
            import psycopg2  # noqa: F401
        engine = sqlalchemy.create_engine(args.url.split('+', 1)[1])
        with engine.connect() as conn:
            info['server'] = str(conn.execute(sqlalchemy.text('SELECT VERSION()')).scalar())
        engine.dispose()
    common.emit_probe(common.variant_list(), **info)


def cmd_publish(args):
    chosen = common.choose_variants(args, common.variant_list())
    if args.seq:
        chosen = shared.with_seq(chosen)
    publish = shared.captured_publish(shared.capture_puts(kombu_sqla.Channel, stored_row))
    with connection(args) as conn:
        manifest = common.publish_each(args, chosen, conn.channel(), declare, publish)
    emit(manifest)


def describe_message(message):
    return shared.describe_message(message, ('exchange', 'routing_key', 'redelivered'))


def drain(args, queue, count):
    deadline = time.monotonic() + args.timeout
    requeued = set()

    def run(received):
        with connection(args) as conn:
            channel = conn.channel()
            declare(channel, queue.exchange, queue)
            bound = queue(channel)
            if args.mode == 'get':
                common.get_each(bound, count, deadline, shared.ACCEPT, received, describe_message)
                return

            def on_message(message):
                entry = describe_message(message)
                tag = message.delivery_tag
                if args.mode == 'requeue' and tag not in requeued:
                    requeued.add(tag)
                    entry['settled'] = 'requeue'
                    received.append(entry)
                    message.requeue()
                    return
                received.append(entry)
                message.ack()

            consumer = Consumer(channel, queues=[bound], accept=shared.ACCEPT, on_message=on_message, auto_declare=False)
            with consumer:
                shared.drain_events(conn, received, count, deadline)

    return shared.drained(run)


def cmd_consume(args):
    common.consume(args, drain)


def cmd_rows(args):
    engine = sqlalchemy.create_engine(args.url.split('+', 1)[1])
    sql = (
        'SELECT m.id, m.visible, m.timestamp, m.version, q.name, m.payload FROM kombu_message m '
        'LEFT JOIN kombu_queue q ON q.id = m.queue_id ORDER BY m.id'
    )
    with engine.connect() as conn:
        rows = [
            {
                'id': r[0],
                'visible': None if r[1] is None else bool(r[1]),
                'timestamp': None if r[2] is None else r[2].isoformat(),
                'version': r[3],
                'queue': r[4],
                'payload': r[5],
            }
            for r in conn.execute(sqlalchemy.text(sql))
        ]
    engine.dispose()
    emit(rows)


def main(argv=None):
    parser, sub = shared.command_parser(__doc__)
    rows = sub.add_parser('rows', help='print every row of kombu_message')
    rows.add_argument('--url', required=True)
    for name in ('publish', 'consume'):
        p = sub.add_parser(name)
        common.add_queue_arguments(p, 'sqla+postgresql://postgres@127.0.0.1/wakame_test', name)
        if name == 'publish':
            p.add_argument('--seq', action='store_true', help="add an 'x-seq' header: the message's publish index")
        if name == 'consume':
            p.add_argument('--mode', default='drain', choices=('drain', 'get', 'requeue'))
    shared.run_command(parser, argv, probe=cmd_probe, publish=cmd_publish, consume=cmd_consume, rows=cmd_rows)


if __name__ == '__main__':
    main()

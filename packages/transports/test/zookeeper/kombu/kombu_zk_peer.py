#!/usr/bin/python3
"""A Python kombu peer for Wakame's kombu interop tests on ZooKeeper (kombu's `zookeeper://` transport).

Run with the system interpreter, which has Debian's python3-kombu (kombu 5.2) and python3-kazoo (kazoo 2.8):

    /usr/bin/python3 kombu_zk_peer.py probe --url zookeeper://127.0.0.1:2181/
    /usr/bin/python3 kombu_zk_peer.py variants
    /usr/bin/python3 kombu_zk_peer.py publish --url URL --exchange X --queue Q --routing-key K \
        [--variants a,b] [--per-variant] [--priorities 0,9,5]
    /usr/bin/python3 kombu_zk_peer.py consume --url URL --exchange X --queue Q --routing-key K \
        [--count N] [--timeout SECONDS] [--per-variant --variants a,b]
    /usr/bin/python3 kombu_zk_peer.py nodes --url URL --queue Q

URLs are kombu's: `zookeeper://host:2181/<vhost>`; the vhost is the znode every queue lives under.

kombu's ZooKeeper transport keeps no exchange in ZooKeeper: a binding lives in the memory of the connection that
declared it, and a publish is resolved there into one `_put` per queue: kazoo's `Queue.put`, a sequential znode
`/<vhost>/<queue>/entry-<9 - priority>-<sequence>` holding kombu's JSON envelope. `_get` is kazoo's `Queue.get`:
read the first child by name, delete it; the message is then the consumer's alone (nothing survives a crash).

`publish` prints the manifest of what it sent, with the exact data kombu's `_put` stored (captured from the channel).
`--priorities 0,9,5` instead publishes one JSON message per listed priority ({"p": k}) to the one queue
(`QUEUE.priorities` with `--per-variant`).
`consume` prints {"messages": [...], "errors": [...]} as the other peers do. `nodes` prints the queue's children
(sorted, as kazoo reads them) with their data.

The catalogue of variants and the JSON output are in `../../kombu-common/kombu_variants.py`, what the peers of kombu's
virtual transports share in `../../kombu-common/kombu_peer_common.py`.
"""

import pathlib
import sys
import time

import kombu  # first: a missing python3-kombu is then reported by that name

import kazoo
from kazoo.client import KazooClient
from kombu import Consumer, Producer
from kombu.transport import zookeeper as kombu_zk

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'kombu-common'))
import kombu_variants as common  # noqa: E402  (found through the path set just above)
import kombu_peer_common as shared  # noqa: E402
from kombu_variants import emit  # noqa: E402


def stored_entry(channel, queue, message):
    # what `_put` writes: kombu's dumps(message), under the priority kombu derives from it
    return {
        'queue': queue,
        'raw': kombu_zk.dumps(message),
        'node_priority': channel._get_message_priority(message, reverse=True),
    }


connection = shared.polling_connection
declare = shared.declare_queue


def hosts_and_root(url):
    rest = url[len('zookeeper://') :]
    hosts, _, root = rest.partition('/')
    return hosts or '127.0.0.1:2181', '/' + root.strip('/')


def cmd_probe(args):
    info = {'kombu': kombu.__version__, 'kazoo': kazoo.__version__}
    if args.url:
        hosts, _ = hosts_and_root(args.url)
        client = KazooClient(hosts=hosts, timeout=args.timeout)
        client.start(timeout=args.timeout)
        info['server'] = client.command(b'srvr').split('\n')[0]
        client.stop()
        client.close()
    common.emit_probe(common.variant_list(), **info)


def cmd_publish(args):
    publish = shared.captured_publish(shared.capture_puts(kombu_zk.Channel, stored_entry))
    with connection(args) as conn:
        channel = conn.channel()
        if args.priorities:
            exchange, queue = common.entities(args, 'priorities')  # with --per-variant: QUEUE.priorities
            declare(channel, exchange, queue)
            producer = Producer(channel, exchange=exchange, routing_key=queue.routing_key, auto_declare=False)
            manifest = [
                {'priority': int(p), **publish(producer, {'p': int(p)}, {'priority': int(p)})}
                for p in args.priorities.split(',')
            ]
        else:
            chosen = common.choose_variants(args, common.variant_list())
            manifest = common.publish_each(args, chosen, channel, declare, publish)
    emit(manifest)


def describe_message(message):
    return shared.describe_message(message, ('exchange', 'routing_key', 'redelivered'))


def drain(args, queue, count):
    deadline = time.monotonic() + args.timeout

    def run(received):
        with connection(args) as conn:
            channel = conn.channel()
            declare(channel, queue.exchange, queue)

            def on_message(message):
                received.append(describe_message(message))
                message.ack()

            # prefetch 1: kombu's virtual channel would otherwise take (delete) more entries than it hands out
            consumer = Consumer(
                channel,
                queues=[queue(channel)],
                accept=shared.ACCEPT,
                on_message=on_message,
                auto_declare=False,
                prefetch_count=1,
            )
            with consumer:
                shared.drain_events(conn, received, count, deadline)

    return shared.drained(run)


def cmd_consume(args):
    common.consume(args, drain)


def cmd_nodes(args):
    hosts, root = hosts_and_root(args.url)
    client = KazooClient(hosts=hosts, timeout=args.timeout)
    client.start(timeout=args.timeout)
    path = f'{root.rstrip("/")}/{args.queue}'
    nodes = []
    for name in sorted(client.get_children(path)):
        data, stat = client.get(f'{path}/{name}')
        nodes.append({'name': name, 'data': data.decode('utf-8'), 'ephemeral': stat.ephemeralOwner != 0})
    client.stop()
    client.close()
    emit(nodes)


def main(argv=None):
    parser, sub = shared.command_parser(__doc__)
    nodes = sub.add_parser('nodes', help="print a queue's children with their data")
    nodes.add_argument('--url', required=True)
    nodes.add_argument('--queue', required=True)
    nodes.add_argument('--timeout', type=float, default=10.0)
    for name in ('publish', 'consume'):
        p = sub.add_parser(name)
        common.add_queue_arguments(p, 'zookeeper://127.0.0.1:2181/', name)
        if name == 'publish':
            p.add_argument('--priorities', help='publish {"p": k} once per listed priority k instead of the variants')
    shared.run_command(parser, argv, probe=cmd_probe, publish=cmd_publish, consume=cmd_consume, nodes=cmd_nodes)


if __name__ == '__main__':
    main()

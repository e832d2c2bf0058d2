"""Real kombu through Redis, for bench/redis-kombu.bench.ts: publishes then consumes COUNT messages
(the same ~200-byte JSON task request as the TypeScript benchmarks) per round, each phase bounded
by COUNT and by SECONDS, and prints one JSON line: per-round msg/s of each phase, and versions.

usage: python3 kombu-redis.py URL KEYPREFIX COUNT ROUNDS SECONDS PREFETCH
Every key kombu makes starts with KEYPREFIX (global_keyprefix); the caller deletes them afterwards.
"""
import json
import sys
import time

import kombu
from kombu import Connection, Consumer, Exchange, Producer, Queue

url, keyprefix, count, rounds, seconds, prefetch = sys.argv[1:7]
count, rounds, seconds, prefetch = int(count), int(rounds), float(seconds), int(prefetch)


def payload(i):
    return {
        "id": i,
        "task": "media.process",
        "url": "https://example.com/videos/2026/11/21/a-reasonably-long-file-name.mp4",
        "options": {"width": 1920, "height": 1080, "codec": "h264", "audio": True},
        "requestedBy": "user-1234",
    }


exchange = Exchange("kombu.bench", type="direct", durable=True)
queue = Queue("kombu.bench", exchange, routing_key="kombu.bench", durable=True)
result = {"kombu": kombu.__version__, "python": sys.version.split()[0], "publish": [], "consume": [], "counts": []}

with Connection(url, transport_options={"global_keyprefix": keyprefix}) as conn:
    channel = conn.channel()
    queue(channel).declare()
    for _ in range(rounds):
        queue(channel).purge()
        producer = Producer(channel, exchange=exchange, routing_key="kombu.bench", serializer="json")
        sent = 0
        start = time.perf_counter()
        while sent < count and time.perf_counter() - start < seconds:
            producer.publish(payload(sent), delivery_mode=2)
            sent += 1
        result["publish"].append(sent / (time.perf_counter() - start))

        got = 0

        def on_message(body, message):
            global got
            message.ack()
            got += 1

        consume_channel = conn.channel()
        start = time.perf_counter()
        with Consumer(consume_channel, queues=[queue], callbacks=[on_message], accept=["json"], prefetch_count=prefetch):
            while got < sent and time.perf_counter() - start < seconds:
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    pass
                except OSError:
                    pass
        result["consume"].append(got / (time.perf_counter() - start))
        result["counts"].append([sent, got])
        consume_channel.close()
    queue(channel).delete()

print(json.dumps(result))

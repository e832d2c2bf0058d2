"""A Python service publishing with kombu to Redis, as a Celery-era service would.

Usage: /usr/bin/python3 examples/kombu-redis/producer.py [redis-url] [count]
(Debian: apt install python3-kombu python3-redis)
"""
import sys

from kombu import Connection, Exchange, Queue

url = sys.argv[1] if len(sys.argv) > 1 else 'redis://127.0.0.1:6379/0'
count = int(sys.argv[2]) if len(sys.argv) > 2 else 5

orders = Exchange('orders', type='topic')
queue = Queue('orders.audit', orders, routing_key='order.#', max_priority=9)

with Connection(url) as conn:
    producer = conn.Producer(serializer='json')
    for n in range(count):
        # kombu's Redis transport serves priority 0 first: the last order is the urgent one.
        priority = 0 if n == count - 1 else 6
        producer.publish(
            {'order': n, 'total': 10.5 * (n + 1), 'note': 'déjà vu'},
            exchange=orders,
            routing_key='order.created.eu',
            declare=[queue],
            priority=priority,
            compression='zlib',
            headers={'source': 'python-kombu'},
        )
print(f'kombu published {count} orders to {url}')

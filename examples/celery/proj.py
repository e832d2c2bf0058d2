"""The Python side of the example: a Celery app whose tasks Node calls, and which calls Node's.

Worker:  cd examples/celery && BROKER=<url> /usr/bin/python3 -m celery -A proj worker -P solo -Q celery -l info
Client:  cd examples/celery && BROKER=<url> /usr/bin/python3 proj.py

BROKER is amqp://guest:guest@127.0.0.1:5672// (results over rpc://) or redis://127.0.0.1:6379/0 (results
in the same Redis).
"""
import os
import sys

from celery import Celery, chain

BROKER = os.environ.get('BROKER', 'amqp://guest:guest@127.0.0.1:5672//')
BACKEND = 'rpc://' if BROKER.startswith('amqp') else BROKER

app = Celery('proj', broker=BROKER, backend=BACKEND)
# Tasks named node.* are Node's: they go to the queue its worker consumes.
app.conf.task_routes = {'node.*': {'queue': 'node'}}


@app.task(name='proj.tasks.add')
def add(x, y):
    return x + y


@app.task(name='proj.tasks.mul')
def mul(x, factor):
    return x * factor


@app.task(name='proj.tasks.divide')
def divide(x, y):
    return x / y


if __name__ == '__main__':
    # Python calling Node: a plain call, a failure, and a chain through both.
    print('node.slugify ->', app.send_task('node.slugify', kwargs={'title': 'Hello Celery'}).get(timeout=30))
    try:
        app.send_task('node.charge', args=[-5]).get(timeout=30)
    except Exception as error:  # noqa: BLE001 -- showing what Python sees
        print('node.charge failed ->', type(error).__name__, error)
    flow = chain(add.s(2, 3), app.signature('node.double'), mul.s(10))
    print('add | node.double | mul ->', flow.apply_async().get(timeout=30))
    sys.exit(0)

"""The Python side of Wakame's Celery interop tests: one Celery app configured from the environment.

Run as a worker:  python3 -m celery -A celery_peer worker -P solo ...   (PYTHONPATH = this folder)
Run as a client:  python3 celery_peer.py <command> [json argument]     (prints one JSON line)

Environment: CELERY_BROKER (broker URL), CELERY_BACKEND (rpc:// or redis://…), PEER_PREFIX (the
names of this run's queues: <prefix>.py for Python's tasks, <prefix>.wk for Wakame's, <prefix>.hi
for the priority route to Wakame, <prefix>.pyhi for the one to Python), CELERY_KEYPREFIX (Redis only:
kombu's global_keyprefix, so concurrent runs never share keys).
"""
import json
import os
import sys
import time

from celery import Celery, chain, group
from kombu import Exchange, Queue

PREFIX = os.environ.get('PEER_PREFIX', 'wakame-celery')
PY_QUEUE = f'{PREFIX}.py'
WK_QUEUE = f'{PREFIX}.wk'
HI_QUEUE = f'{PREFIX}.hi'
PYHI_QUEUE = f'{PREFIX}.pyhi'
KEYPREFIX = os.environ.get('CELERY_KEYPREFIX')

app = Celery('celery_peer', broker=os.environ.get('CELERY_BROKER'), backend=os.environ.get('CELERY_BACKEND'))
app.conf.update(
    task_default_queue=PY_QUEUE,
    task_queues=[
        Queue(PY_QUEUE, Exchange(PY_QUEUE), routing_key=PY_QUEUE),
        Queue(HI_QUEUE, Exchange(HI_QUEUE), routing_key=HI_QUEUE, queue_arguments={'x-max-priority': 10}),
        Queue(PYHI_QUEUE, Exchange(PYHI_QUEUE), routing_key=PYHI_QUEUE, queue_arguments={'x-max-priority': 10}),
    ],
    accept_content=['json', 'msgpack'],
    broker_transport_options={'global_keyprefix': KEYPREFIX} if KEYPREFIX else {},
    # Wakame's tasks ('wk.*') go to the queue the Wakame worker consumes; 'wk.urgent' to the priority queue.
    task_routes={'wk.urgent': {'queue': HI_QUEUE}, 'wk.*': {'queue': WK_QUEUE}},
    result_expires=600,
    broker_connection_retry_on_startup=True,
)


@app.task(name='py.add')
def add(x, y):
    return x + y


@app.task(name='py.total')
def total(*numbers, scale=1):
    return sum(numbers) * scale


@app.task(name='py.fail')
def fail(message):
    raise ValueError(message)


@app.task(name='py.flaky', bind=True, max_retries=3)
def flaky(self, succeed_on):
    # Fails until its retries reach `succeed_on`, retrying with a short countdown each time.
    if self.request.retries < succeed_on:
        raise self.retry(countdown=0.2, exc=RuntimeError(f'attempt {self.request.retries}'))
    return {'retries': self.request.retries}


@app.task(name='py.when', bind=True)
def when(self):
    # When it ran, and the eta it was given, for 'not before' assertions.
    return {'ran_at': time.time(), 'eta': self.request.eta}


@app.task(name='py.mul')
def mul(x, factor):
    return x * factor


@app.task(name='py.on_error')
def on_error(task_id):
    # An old-style errback, as a worker without the errback's code sends it: the failed task's id.
    return {'failed_task': task_id}


@app.task(name='py.priority', bind=True)
def priority(self):
    info = self.request.delivery_info or {}
    return {'queue': info.get('routing_key'), 'priority': info.get('priority')}


def exception_of(result):
    error = result.result
    return {'type': type(error).__name__, 'message': str(error), 'traceback': result.traceback}


def wait(result, timeout=60):
    try:
        return {'state': 'SUCCESS', 'value': result.get(timeout=timeout), 'id': result.id}
    except Exception:  # noqa: BLE001 -- the failure is what the test looks at
        if result.state in ('PENDING', 'STARTED', 'RETRY'):
            raise
        return {'state': result.state, 'id': result.id, **exception_of(result)}


def client(command, arg):
    """Sends Wakame's tasks from Python and waits for their results."""
    if command == 'sum':
        return wait(app.send_task('wk.add', args=arg['args'], serializer=arg.get('serializer', 'json')))
    if command == 'kwargs':
        return wait(app.send_task('wk.greet', kwargs=arg['kwargs']))
    if command == 'fail':
        return wait(app.send_task('wk.fail', args=[arg['message']]))
    if command == 'retry':
        return wait(app.send_task('wk.flaky', args=[arg['succeed_on']]))
    if command == 'eta':
        sent_at = time.time()
        outcome = wait(app.send_task('wk.when', countdown=arg['countdown']))
        return {**outcome, 'sent_at': sent_at}
    if command == 'expired':
        # Already expired when it arrives: the worker must not run it.
        result = app.send_task('wk.add', args=[1, 1], expires=-1)
        return wait(result)
    if command == 'priority':
        return wait(app.send_task('wk.urgent', priority=arg['priority']))
    if command == 'chain':
        # Python -> Wakame -> Python: py.add, then Wakame's wk.double, then py.mul.
        flow = chain(add.s(*arg['args']), app.signature('wk.double'), mul.s(arg['factor']))
        return wait(flow.apply_async())
    if command == 'chain_to_group':
        # Wakame's wk.add, then a group of Python's py.mul, each given wk.add's result.
        flow = chain(app.signature('wk.add', args=arg['args']), group(mul.s(f) for f in arg['factors']))
        return {'state': 'SUCCESS', 'value': flow.apply_async().get(timeout=60)}
    if command == 'group':
        flow = group(app.signature('wk.add', args=pair) for pair in arg['pairs'])
        return {'state': 'SUCCESS', 'value': flow.apply_async().get(timeout=60)}
    if command == 'errback':
        # The errback's id is fixed first, so its result can be awaited here.
        errback = on_error.s()
        errback.freeze()
        failed = wait(app.send_task('wk.fail', args=[arg['message']], link_error=errback))
        return {'failed': failed, 'errback': wait(app.AsyncResult(errback.id))}
    if command == 'run':
        return wait(app.send_task(arg['task'], args=arg.get('args', []), kwargs=arg.get('kwargs', {})))
    if command == 'time_limit':
        return wait(app.send_task(arg['task'], time_limit=arg.get('hard'), soft_time_limit=arg.get('soft')))
    if command == 'events':
        return events(arg)
    if command == 'state':
        result = app.AsyncResult(arg['id'])
        return {'state': result.state}
    raise SystemExit(f'unknown command {command}')


def events(arg):
    """Listens to Celery events of one worker: says 'hearing' on stderr at its first event, and prints
    the events it saw once a task-succeeded (or task-failed) came, or after the timeout."""
    hostname = arg['hostname']
    seen = []

    def on_event(event):
        if event.get('hostname') != hostname:
            return
        if not seen:
            print('hearing', file=sys.stderr, flush=True)
        seen.append(event)
        if event['type'] in ('task-succeeded', 'task-failed'):
            receiver.should_stop = True

    with app.connection_for_read() as connection:
        receiver = app.events.Receiver(connection, handlers={'*': on_event})
        deadline = time.time() + arg.get('timeout', 90)
        for _ in receiver.itercapture(limit=None, timeout=None, wakeup=False):
            if time.time() > deadline:
                break
    return {'events': seen}


if __name__ == '__main__':
    name = sys.argv[1]
    argument = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    if name == 'probe':
        import celery
        import kombu
        print(json.dumps({'celery': celery.__version__, 'kombu': kombu.__version__}))
    else:
        print(json.dumps(client(name, argument)))

"""Admission control: heavy requests take a slot from a small pool, so that single records never wait behind them.

A body over ``HEAVY_BYTES`` (a batch of more than a few dozen records, a BigQuery call, most explanations) must
hold one of ``HEAVY_SLOTS`` slots while it is read, decoded, decided, recorded and answered; the others wait for one
at most ``WAIT_SECONDS``, then get 503 ``overloaded`` with ``Retry-After``. A small body never takes a slot. So at
most ``HEAVY_SLOTS`` heavy requests use the instance's CPU and memory at once, whatever the concurrency.

A waiting request still holds one of the server's threads, so heavy requests may hold at most all threads but
``LIGHT_THREADS``: one more gets its 503 at once. A one-record request always finds a thread free. It still shares
the interpreter's lock with the heavy ones, so the interpreter hands the lock over more often than its default
(``share_the_interpreter``).

The process runs on as many CPUs as the instance has vCPUs (``bind_to_instance_cpus``). One worker runs Python on
one core at a time, whatever the machine shows it; its threads spread over more cores than the instance pays for
pass the interpreter's lock from core to core at every hand-over, and the hand-overs cost more than the requests
(``docs/capacity.md``: a 1-vCPU instance on a machine that shows 2).
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from default_risk.protocols.answers import ApiError

HEAVY_BYTES = 64 * 1024
"""About 100 records as objects: below it a request is answered without a slot."""
HEAVY_SLOTS = 2
LIGHT_THREADS = 2
"""Threads heavy requests never take, running or waiting: kept for small requests."""
WAIT_SECONDS = 20.0
"""How long a heavy request waits for a slot: well inside the function's 60 s timeout."""
RETRY_AFTER_SECONDS = 1
SWITCH_INTERVAL_SECONDS = 0.001
"""How long a thread may run Python before the interpreter hands its lock to another (CPython's default: 5 ms). A
one-record request gives the lock up and takes it back at every socket and file call; beside a heavy request, each
time it may wait this long (measured: the probe's p99 under 8 clients of 10,000-record batches 289 → 228 ms)."""
THREADS_ENV = "THREADS"
"""The server's thread count, read by functions-framework (the deploy sets it to the concurrency)."""
CPUS_ENV = "WORKER_CPUS"
"""The instance's vCPUs, which the process binds to (the deploy passes ``function_cpu``; unset: every CPU it sees)."""


def server_threads() -> int:
    """The thread count functions-framework gives gunicorn: ``THREADS``, or its default of 4 per CPU."""
    return int(os.environ.get(THREADS_ENV, (os.cpu_count() or 1) * 4))


def share_the_interpreter() -> None:
    """Hand the interpreter's lock over every ``SWITCH_INTERVAL_SECONDS`` (once, when the function starts)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


def bind_to_instance_cpus() -> None:
    """Run the process on the first ``WORKER_CPUS`` of the CPUs it may use (a fraction of one counts as one), when it
    sees more; a ValueError naming the variable when it is not a number of CPUs."""
    raw = os.environ.get(CPUS_ENV, "").strip()
    if not raw:
        return
    try:
        cpus = math.ceil(float(raw))
    except ValueError:
        cpus = 0
    if not 1 <= cpus <= 1024:
        raise ValueError(f"{CPUS_ENV} must be the instance's number of vCPUs (such as 1 or 0.583), got {raw[:40]!r}")
    visible = sorted(os.sched_getaffinity(0))
    if cpus < len(visible):
        os.sched_setaffinity(0, visible[:cpus])


_slots = threading.BoundedSemaphore(HEAVY_SLOTS)
_heavy_threads = threading.BoundedSemaphore(max(1, server_threads() - LIGHT_THREADS))


def _overloaded(reason: str) -> ApiError:
    return ApiError("overloaded", f"{reason}; retry later", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@contextmanager
def admitted(body_bytes: int, wait_seconds: float = WAIT_SECONDS) -> Iterator[None]:
    """Run the block at once for a small body; for a heavy one, once it holds a slot (503 after ``wait_seconds``,
    at most ``WAIT_SECONDS``: the caller passes what is left of the request's budget; 503 at once when heavy
    requests already hold every thread they may)."""
    if body_bytes <= HEAVY_BYTES:
        yield
        return
    if not _heavy_threads.acquire(blocking=False):
        raise _overloaded("the instance is answering or queueing as many large requests as it takes")
    try:
        waited = max(0.0, min(WAIT_SECONDS, wait_seconds))
        if not _slots.acquire(timeout=waited):
            raise _overloaded(
                f"{HEAVY_SLOTS} large requests are being answered and this one waited {waited:g} s for its turn"
            )
        try:
            yield
        finally:
            _slots.release()
    finally:
        _heavy_threads.release()

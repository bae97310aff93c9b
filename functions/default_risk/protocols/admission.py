"""Admission control: heavy requests take a slot from a small pool, so that single records never wait behind them.

A body over ``HEAVY_BYTES`` (a batch of more than a few dozen records, a BigQuery call, most explanations) must
hold one of ``HEAVY_SLOTS`` slots while it is decoded, decided, recorded and answered; the others wait for one at
most ``WAIT_SECONDS``, then get 503 ``overloaded`` with ``Retry-After``. A small body never takes a slot. So at
most ``HEAVY_SLOTS`` heavy requests use the instance's CPU and memory at once, whatever the concurrency, and a
one-record request finds a thread and a core free.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from default_risk.protocols.answers import ApiError

HEAVY_BYTES = 64 * 1024
"""About 100 records as objects: below it a request is answered without a slot."""
HEAVY_SLOTS = 2
WAIT_SECONDS = 20.0
"""How long a heavy request waits for a slot: well inside the function's 60 s timeout."""
RETRY_AFTER_SECONDS = 1

_slots = threading.BoundedSemaphore(HEAVY_SLOTS)


@contextmanager
def admitted(body_bytes: int, wait_seconds: float = WAIT_SECONDS) -> Iterator[None]:
    """Run the block at once for a small body; for a heavy one, once it holds a slot (503 after ``wait_seconds``,
    at most ``WAIT_SECONDS``: the caller passes what is left of the request's budget)."""
    if body_bytes <= HEAVY_BYTES:
        yield
        return
    waited = max(0.0, min(WAIT_SECONDS, wait_seconds))
    if not _slots.acquire(timeout=waited):
        raise ApiError(
            "overloaded",
            f"{HEAVY_SLOTS} large requests are being answered and this one waited {waited:g} s for its turn; "
            "retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    try:
        yield
    finally:
        _slots.release()

"""Decision ids: UUIDv7 (RFC 9562), unique and ordered by time, so that the decisions of a day sort by when they were
made and an id alone says which day's records hold it (``day_of``).

Within a process the ids strictly increase: the 48-bit millisecond and the 12-bit ``rand_a`` field count together
(RFC 9562's method 1, a counter), so a batch of 10,000 ids takes the next three milliseconds' counters; 62 random
bits keep the ids of different instances apart. A batch is made with numpy, a few microseconds a thousand.

The random bits come from the operating system's CSPRNG (``os.urandom``), drawn ``RANDOM_POOL_BYTES`` at a time for
the ids of small requests: one system call (which hands the interpreter's lock to another thread) per 2,048 ids
rather than per id. A forked child starts with an empty pool, so no two processes hand out the same bits.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, date, datetime

import numpy as np

_SEQUENCE_BITS = 12
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_DIGIT_AT = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
"""Where the 32 hex digits go in the 36 characters of ``8-4-4-4-12``."""
RANDOM_POOL_BYTES = 16 * 1024
_lock = threading.Lock()
_last = -1
"""The counter (millisecond << 12 | sequence) of the last id made here."""
_pool = memoryview(b"")
"""Random bytes not handed out yet (``_draw``)."""


def _empty_pool() -> None:
    global _pool
    _pool = memoryview(b"")


os.register_at_fork(after_in_child=_empty_pool)


def _draw(count: int) -> tuple[int, bytes]:
    """The first of ``count`` consecutive counters, none before now and all after the last one handed out, and
    ``8 * count`` random bytes (from the pool when they fit in it)."""
    global _last, _pool
    size = 8 * count
    with _lock:
        first = max((time.time_ns() // 1_000_000) << _SEQUENCE_BITS, _last + 1)
        _last = first + count - 1
        if size <= RANDOM_POOL_BYTES:
            if len(_pool) < size:
                _pool = memoryview(os.urandom(RANDOM_POOL_BYTES))
            drawn, _pool = _pool[:size].tobytes(), _pool[size:]
            return first, drawn
    return first, os.urandom(size)


def new_id() -> str:
    """One new UUIDv7 string (the single-record path: plain integers, no arrays)."""
    counter, drawn = _draw(1)
    tail = int.from_bytes(drawn) >> 2
    value = (counter >> _SEQUENCE_BITS) << 80 | 0x7 << 76 | (counter & 0xFFF) << 64 | 0b10 << 62 | tail
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_ids(count: int) -> list[str]:
    """``count`` new UUIDv7 strings, in increasing order."""
    if count == 1:
        return [new_id()]
    first, drawn = _draw(count)
    tails = np.frombuffer(drawn, ">u8").astype(np.uint64) >> np.uint64(2)
    counters = np.arange(first, first + count, dtype=np.uint64)
    high = (counters >> np.uint64(_SEQUENCE_BITS)) << np.uint64(16) | np.uint64(0x7000) | (counters & np.uint64(0xFFF))
    low = np.uint64(1 << 63) | tails  # variant 0b10, then 62 random bits
    raw = np.stack([high, low], axis=1).astype(">u8").view(np.uint8).reshape(count, 16)
    digits = np.stack([raw >> 4, raw & 15], axis=2).reshape(count, 32)
    text = np.full((count, 36), ord("-"), np.uint8)
    text[:, _DIGIT_AT] = _HEX[digits]
    joined = text.tobytes().decode("ascii")
    return [joined[36 * i : 36 * i + 36] for i in range(count)]


def day_of(decision_id: str) -> date:
    """The UTC day a decision id was made; ValueError if it is not a UUIDv7."""
    value = uuid.UUID(decision_id)
    if value.version != 7:
        raise ValueError(f"{decision_id!r} is not a decision id (a UUIDv7)")
    return datetime.fromtimestamp((value.int >> 80) / 1000, UTC).date()

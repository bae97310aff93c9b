"""Bounds on receiving a request: a slow sender frees its thread (its body gets 408).

gunicorn reads a body with blocking ``recv`` calls and loops until it has what was asked, so a client that sends a
byte every few seconds would hold one of the instance's threads for as long as it likes: a socket timeout bounds
each ``recv``, not the body. One watchdog thread watches every request being answered and shuts the reading side
of a connection whose body is too late. A pending ``recv`` then returns at once, the body ends short, and the request
is answered 408 ``body_timeout`` on the writing side, which stays open. Too late means:

- past its deadline, ``BODY_READ_TIMEOUT_SECONDS`` after reading it began, always;
- slower than ``MIN_BYTES_PER_SECOND`` once ``SLOW_AFTER_SECONDS`` of reading have passed, while every thread of the
  instance is answering a request: a thread held by a trickle is then freed for one that can be answered.

Only a body being read (or drained after an early answer) is cut: a request whose body has arrived, or that is not
reading it (one waiting for an admission slot), is not. Its pace is judged on the current stretch of reading alone,
and a deadline that passed while it was not reading is set again when it reads again.

The request line and headers, which gunicorn reads on the thread before it calls the function, are watched the same
way from when the thread takes the connection until gunicorn has read them (``head`` and ``head_arrived``, around
gunicorn's handling: ``protocols.server``): past the deadline, or while every thread is busy once
``SLOW_AFTER_SECONDS`` have passed (a head comes in one packet), the reading side is shut and gunicorn closes the
connection without an answer, for there is no request to answer yet.

Without gunicorn's socket (the development server, in-process tests) there is nothing to watch.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from default_risk.contract.settings import seconds_setting
from default_risk.protocols.admission import server_threads

TIMEOUT_ENV = "BODY_READ_TIMEOUT_SECONDS"
DEFAULT_SECONDS = 10.0
"""An 8 MiB body must arrive at 0.8 MB/s or faster: far below any bank's link, far above a trickle."""
MIN_BYTES_PER_SECOND = 64 * 1024
"""While the instance is full, a body must arrive at least this fast (a whole record is one packet)."""
SLOW_AFTER_SECONDS = 0.05
"""How long a body may take before its pace is judged."""
SOCKET_KEY = "gunicorn.socket"
"""Where gunicorn puts the connection's socket in the WSGI environment."""


def too_slow(elapsed: float, received: int) -> bool:
    """Whether a body that has sent ``received`` bytes in ``elapsed`` seconds is too slow for a full instance."""
    return elapsed > SLOW_AFTER_SECONDS and received < MIN_BYTES_PER_SECOND * elapsed


@dataclass(eq=False)
class Watch:
    """One request: when its current stretch of reading began and what arrived since; whether a deadline is set;
    ``cut`` says why its reading side was shut."""

    connection: socket.socket | None
    read_from: float = 0.0
    received: int = 0
    reading: bool = False
    armed: bool = False
    cut: str | None = None
    active: bool = field(default=True, repr=False)


class Watchdog:
    """The requests being answered, their deadlines in a heap, and the one thread that enforces both bounds."""

    def __init__(self, seconds: float, threads: int) -> None:
        self.seconds, self.threads = seconds, threads
        self._heap: list[tuple[float, int, Watch]] = []
        self._answering: set[Watch] = set()
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._polling = False
        """Whether the watchdog is judging paces (it wakes every ``SLOW_AFTER_SECONDS`` while the instance is full)."""
        self._current = threading.local()

    @contextmanager
    def head(self, connection: socket.socket) -> Iterator[Watch]:
        """The block reads a request's line and headers on this thread, until ``head_arrived``: one stretch of
        reading, under the deadline and the full instance's rule."""
        watch = Watch(connection, read_from=time.monotonic(), reading=True)
        with self._changed:
            self._start(watch)
            self._arm(watch)
        self._current.head = watch
        try:
            yield watch
        finally:
            self.head_arrived()

    def head_arrived(self) -> None:
        """This thread's request has its line and headers: their watch ends (the request's own begins with
        ``watching``)."""
        head = getattr(self._current, "head", None)
        if head is not None:
            self._current.head = None
            self._end(head)

    @contextmanager
    def watching(self, connection: socket.socket | None) -> Iterator[Watch]:
        watch = Watch(connection)
        if connection is None:
            yield watch
            return
        with self._changed:
            self._start(watch)
        self._current.watch = watch
        try:
            yield watch
        finally:
            self._current.watch = None
            self._end(watch)

    def _start(self, watch: Watch) -> None:
        """Count ``watch`` among the requests being answered (under the condition)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="body-deadline", daemon=True)
            self._thread.start()
        self._answering.add(watch)
        if self._full() and not self._polling:  # it sleeps until a deadline: wake it to judge paces
            self._changed.notify()

    def _arm(self, watch: Watch) -> None:
        """Set ``watch``'s deadline ``seconds`` from its stretch of reading (under the condition)."""
        watch.armed = True
        heapq.heappush(self._heap, (watch.read_from + self.seconds, next(self._order), watch))
        if self._heap[0][2] is watch:  # the watchdog sleeps until a later deadline
            self._changed.notify()

    def _end(self, watch: Watch) -> None:
        with self._changed:
            watch.active = False  # dropped from the heap when its deadline comes up
            self._answering.discard(watch)

    @contextmanager
    def reading(self) -> Iterator[Watch]:
        """The block reads this thread's request body and counts in the watch it is given the bytes that arrive; the
        deadline is set when the first such block starts (again, if it passed between two)."""
        watch = getattr(self._current, "watch", None)
        if watch is None:
            yield Watch(None)
            return
        with self._changed:
            watch.read_from, watch.received = time.monotonic(), 0
            if not watch.armed:
                self._arm(watch)
            watch.reading = True
        try:
            yield watch
        finally:
            watch.reading = False

    def why(self, watch: Watch) -> str:
        if watch.cut == "slow":
            return (
                f"the body arrived slower than {MIN_BYTES_PER_SECOND // 1024} KiB/s while every thread of the "
                "instance was busy"
            )
        return f"the body did not arrive within {self.seconds:g} s"

    def _full(self) -> bool:
        return len(self._answering) >= self.threads

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._heap and not self._heap[0][2].active:
                    heapq.heappop(self._heap)
                now = time.monotonic()
                if self._full():
                    for watch in self._answering:
                        if watch.reading and watch.cut is None and too_slow(now - watch.read_from, watch.received):
                            self._cut(watch, "slow")
                while self._heap and self._heap[0][0] <= now:
                    _, _, watch = heapq.heappop(self._heap)
                    watch.armed = False
                    if watch.active and watch.reading and watch.cut is None:
                        self._cut(watch, "deadline")
                waits = [self._heap[0][0] - now] if self._heap else []
                self._polling = self._full()
                if self._polling:  # judge each stretch of reading as soon as it may be judged, every other each 50 ms
                    due = (w.read_from + SLOW_AFTER_SECONDS - now for w in self._answering if w.reading and not w.cut)
                    waits += [min((wait for wait in due if wait > 0), default=SLOW_AFTER_SECONDS), SLOW_AFTER_SECONDS]
                self._changed.wait(min(waits, default=None))

    @staticmethod
    def _cut(watch: Watch, reason: str) -> None:
        watch.cut = reason
        with contextlib.suppress(OSError):  # the caller may have gone already
            watch.connection.shutdown(socket.SHUT_RD)


def connection_of(wsgi_environment: Mapping[str, object]) -> socket.socket | None:
    """The request's socket, when gunicorn serves it."""
    connection = wsgi_environment.get(SOCKET_KEY)
    return connection if isinstance(connection, socket.socket) else None


watchdog = Watchdog(seconds_setting(TIMEOUT_ENV, os.environ.get(TIMEOUT_ENV, ""), DEFAULT_SECONDS), server_threads())
"""Anything but a number of seconds in ``BODY_READ_TIMEOUT_SECONDS`` stops the function starting, naming it."""

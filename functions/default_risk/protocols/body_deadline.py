"""A deadline for receiving a request's body: a slow sender gets 408 and frees its thread.

gunicorn reads a body with blocking ``recv`` calls and loops until it has what was asked, so a client that sends a
byte every few seconds would hold one of the instance's threads for as long as it likes: a socket timeout bounds
each ``recv``, not the body. One watchdog thread keeps the deadline of every request being answered and, when one
passes, shuts the reading side of that connection. A pending ``recv`` then returns at once, the body ends short,
and the request is answered 408 ``body_timeout`` on the writing side, which stays open. A request whose body has
arrived is not affected by its deadline passing; its connection is simply not kept alive.

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

TIMEOUT_ENV = "BODY_READ_TIMEOUT_SECONDS"
DEFAULT_SECONDS = 10.0
"""An 8 MiB body must arrive at 0.8 MB/s or faster: far below any bank's link, far above a trickle."""
SOCKET_KEY = "gunicorn.socket"
"""Where gunicorn puts the connection's socket in the WSGI environment."""


@dataclass(eq=False)
class Watch:
    """One request's deadline; ``expired`` once the watchdog has shut its reading side."""

    connection: socket.socket | None
    expired: bool = False
    active: bool = field(default=True, repr=False)


class Watchdog:
    """The deadlines of the requests being answered, in a heap, and the one thread that enforces them."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, connection: socket.socket | None) -> Iterator[Watch]:
        watch = Watch(connection)
        if connection is None:
            yield watch
            return
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="body-deadline", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (time.monotonic() + self.seconds, next(self._order), watch))
            if self._heap[0][2] is watch:
                self._changed.notify()
        try:
            yield watch
        finally:
            with self._changed:
                watch.active = False  # dropped from the heap when its deadline comes up

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._heap and not self._heap[0][2].active:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._changed.wait()
                    continue
                deadline, _, watch = self._heap[0]
                if deadline > time.monotonic():
                    self._changed.wait(deadline - time.monotonic())
                    continue
                heapq.heappop(self._heap)
                watch.expired = True
                with contextlib.suppress(OSError):  # the caller may have gone already
                    watch.connection.shutdown(socket.SHUT_RD)


def connection_of(wsgi_environment: Mapping[str, object]) -> socket.socket | None:
    """The request's socket, when gunicorn serves it."""
    connection = wsgi_environment.get(SOCKET_KEY)
    return connection if isinstance(connection, socket.socket) else None


watchdog = Watchdog(seconds_setting(TIMEOUT_ENV, os.environ.get(TIMEOUT_ENV, ""), DEFAULT_SECONDS))
"""Anything but a number of seconds in ``BODY_READ_TIMEOUT_SECONDS`` stops the function starting, naming it."""

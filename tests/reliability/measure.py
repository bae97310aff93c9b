"""Measuring a running function server from outside: memory of its process tree, and its peak."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from tests.support.local_cloud import Server

MB = 1024 * 1024


def tree_rss(server: Server) -> int:
    """Resident bytes of the server process and its children (gunicorn's arbiter and worker)."""
    root = psutil.Process(server.process.pid)
    total = 0
    for process in (root, *root.children(recursive=True)):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class PeakRss:
    """The highest ``tree_rss`` seen while the ``watch`` block ran (sampled every ``interval`` s)."""

    def __init__(self, server: Server, interval: float = 0.01) -> None:
        self.server, self.interval = server, interval
        self.before = self.peak = 0

    @contextmanager
    def watch(self) -> Iterator[PeakRss]:
        self.before = self.peak = tree_rss(self.server)
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(self.interval):
                self.peak = max(self.peak, tree_rss(self.server))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            yield self
        finally:
            stop.set()
            sampler.join()
            self.peak = max(self.peak, tree_rss(self.server))

    @property
    def growth(self) -> int:
        return self.peak - self.before

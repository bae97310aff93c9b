"""Measuring a running function server from outside: memory of its process tree, and its peak."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from tests.support.local_cloud import Server

MB = 1024 * 1024
_RESET_PEAK = "5"
"""Written to ``/proc/PID/clear_refs``, sets the process's peak resident size (VmHWM) to its current one."""


def processes(server: Server) -> list[psutil.Process]:
    """The server process and its children (gunicorn's arbiter and worker)."""
    root = psutil.Process(server.process.pid)
    return [root, *root.children(recursive=True)]


def tree_rss(server: Server) -> int:
    """Resident bytes of the server's processes."""
    total = 0
    for process in processes(server):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def _peak_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


class PeakRss:
    """The server's resident memory before a ``watch`` block and the highest it reached during it.

    The peak is the kernel's own high-water mark of each process, reset when the block starts, so
    no spike between two samples can be missed (the sum of the processes' peaks bounds the tree's)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.before = self.peak = 0

    @contextmanager
    def watch(self) -> Iterator[PeakRss]:
        watched = processes(self.server)
        for process in watched:
            Path(f"/proc/{process.pid}/clear_refs").write_text(_RESET_PEAK)
        self.before = sum(process.memory_info().rss for process in watched)
        try:
            yield self
        finally:
            self.peak = sum(_peak_bytes(process.pid) for process in watched if process.is_running())

    @property
    def growth(self) -> int:
        return self.peak - self.before

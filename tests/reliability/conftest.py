"""Fixtures of the reliability tests: a second model version and the fault bench."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.faultproxy import FaultProxy
from tests.reliability.faults import FaultBench
from tests.support.gcs import BUCKET
from tests.support.local_cloud import Server
from tests.support.tiny_model import train_tiny_version


@pytest.fixture(scope="session")
def other_version_dir(tiny_version_dir: Path) -> Path:
    """A second tiny version (another seed), exported beside the first; not published."""
    return train_tiny_version(tiny_version_dir.parent, seed=1)


@pytest.fixture
def fault_bench(
    emulator: Server, tiny_version_dir: Path, other_version_dir: Path, tmp_path: Path
) -> Iterator[FaultBench]:
    """The session's emulator behind a fresh fault proxy; function servers stopped after the test."""
    with FaultProxy(emulator.url) as proxy:
        bench = FaultBench(emulator, proxy, BUCKET, tiny_version_dir, other_version_dir, tmp_path)
        yield bench
        bench.stop_all()

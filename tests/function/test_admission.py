"""Admission control: heavy bodies take a slot and a bounded share of the threads; small bodies never wait."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from default_risk.protocols import admission
from default_risk.protocols.admission import HEAVY_BYTES, HEAVY_SLOTS, LIGHT_THREADS, admitted, server_threads
from default_risk.protocols.answers import ApiError

HEAVY = HEAVY_BYTES + 1


@pytest.fixture
def slots_taken() -> Iterator[None]:
    """Both slots held, as by two large requests being answered."""
    for _ in range(HEAVY_SLOTS):
        assert admission._slots.acquire(blocking=False)
    yield
    for _ in range(HEAVY_SLOTS):
        admission._slots.release()


def test_a_small_body_runs_while_every_slot_is_taken(slots_taken: None) -> None:
    ran = []
    with admitted(HEAVY_BYTES, wait_seconds=60):
        ran.append(True)
    assert ran


def test_a_heavy_body_waits_for_a_slot_at_most_its_time_then_gets_503_overloaded(slots_taken: None) -> None:
    with pytest.raises(ApiError) as refused, admitted(HEAVY, wait_seconds=0.05):
        pytest.fail("ran without a slot")
    assert refused.value.code == "overloaded" and refused.value.headers == {"Retry-After": "1"}
    assert "waited 0.05 s for its turn" in refused.value.message


def test_a_heavy_body_runs_as_soon_as_a_slot_is_released(slots_taken: None) -> None:
    releaser = threading.Timer(0.05, admission._slots.release)
    releaser.start()
    with admitted(HEAVY, wait_seconds=60):  # waits for the timer's release, not for 60 s
        pass
    releaser.join()
    assert admission._slots.acquire(blocking=False)  # the slot came back after the block: the fixture releases it


def test_heavy_requests_hold_every_thread_but_the_light_ones_at_most() -> None:
    """With all the threads heavy requests may hold taken, one more is refused at once: it would not even wait."""
    held = 0
    while admission._heavy_threads.acquire(blocking=False):
        held += 1
    try:
        assert held == max(1, server_threads() - LIGHT_THREADS)
        with pytest.raises(ApiError) as refused, admitted(HEAVY, wait_seconds=60):
            pytest.fail("ran without a thread of its own")
        assert refused.value.code == "overloaded" and "as many large requests as it takes" in refused.value.message
        with admitted(HEAVY_BYTES):  # a small body still runs
            pass
    finally:
        for _ in range(held):
            admission._heavy_threads.release()

"""The fault matrix, each fault on its own function server behind the fault proxy."""

from __future__ import annotations

import pytest

from tests.reliability.faults import SCENARIOS, FaultBench, sigterm_in_flight


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.__name__ for scenario in SCENARIOS])
def test_fault_gives_503_a_log_line_and_recovery(fault_bench: FaultBench, scenario) -> None:
    row = scenario(fault_bench)
    assert row.recovered.startswith("200 "), row


@pytest.mark.slow
def test_sigterm_lets_in_flight_requests_finish_and_exits_cleanly(fault_bench: FaultBench) -> None:
    row = sigterm_in_flight(fault_bench)
    assert "exit code 0" in row.log, row

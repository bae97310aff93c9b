"""The canary's decision function on recorded series (tests/ci/canary_series/): one judgement per poll."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from default_risk.contract.bands import BAND_LABELS
from training.release.canary_policy import SERVER_FAILURES, Action, Limits, Window, decide

SERIES = Path(__file__).parent / "canary_series"
EVEN = {label: 1 / len(BAND_LABELS) for label in BAND_LABELS}
"""A version's reference band shares: its validation scores' deciles."""


def window(recorded: dict | None) -> Window | None:
    """A recorded window as the metrics reader gives it."""
    if recorded is None:
        return None
    outcomes = recorded["outcomes"]
    return Window(
        requests=sum(outcomes.values()),
        server_failures=sum(n for outcome, n in outcomes.items() if outcome in SERVER_FAILURES),
        p95_latency_seconds=recorded["p95"],
        band_records={label: recorded["bands"].get(label, 0) for label in BAND_LABELS},
    )


def judgements(name: str, waited: float = 0.0, limits: Limits | None = None) -> list:
    polls = json.loads((SERIES / f"{name}.json").read_text())["polls"]
    return [
        decide(window(poll["canary"]), window(poll["stable"]), EVEN, EVEN, waited, limits or Limits()) for poll in polls
    ]


def test_a_healthy_canary_advances() -> None:
    (decision,) = judgements("healthy")
    assert decision.action is Action.ADVANCE and decision.reason == "healthy over 60 requests"


@pytest.mark.parametrize(
    ("series", "figure", "value", "limit"),
    [
        ("slow", "p95 latency (s)", 1.2, 0.25),  # 1.5 x 0.11 s is below the 0.25 s floor
        ("failing", "failed-request ratio", 10 / 60, 0.01),
        ("score_shifted", "score PSI", None, 0.25),
    ],
)
def test_a_breach_rolls_back_naming_the_figure_its_value_and_the_limit(series, figure, value, limit) -> None:
    (decision,) = judgements(series)
    assert decision.action is Action.ROLL_BACK
    assert decision.figure == figure and decision.limit == pytest.approx(limit)
    if value is not None:
        assert decision.value == pytest.approx(value)
    assert decision.summary().startswith(f"roll back: {figure} ")
    assert f"> limit {decision.limit:.4g}" in decision.summary()


def test_the_second_step_is_judged_on_its_own_window() -> None:
    first, second = judgements("fails_at_the_second_step")
    assert first.action is Action.ADVANCE
    assert second.action is Action.ROLL_BACK and second.figure == "failed-request ratio"


def test_too_few_requests_wait_then_roll_back_when_they_never_come() -> None:
    limits = Limits(min_requests=20, max_wait_seconds=600)
    (early,) = judgements("no_traffic", waited=30, limits=limits)
    assert early.action is Action.WAIT and early.reason == "3 of 20 requests needed to judge"
    (late,) = judgements("no_traffic", waited=600, limits=limits)
    assert late.action is Action.ROLL_BACK and late.figure == "canary requests"
    assert "got 3 requests in 600 s, fewer than the 20 needed" in late.reason


def test_traffic_that_arrives_in_time_is_judged() -> None:
    waiting, judged = judgements("no_traffic_then_enough", waited=60)
    assert (waiting.action, judged.action) == (Action.WAIT, Action.ADVANCE)


def test_unreadable_metrics_roll_back_and_the_stable_revision_keeps_serving() -> None:
    (decision,) = judgements("metrics_unavailable")
    assert decision.action is Action.ROLL_BACK and "metrics could not be read" in decision.reason
    polls = json.loads((SERIES / "healthy.json").read_text())["polls"]
    assert decide(window(polls[0]["canary"]), None, EVEN, EVEN, 0, Limits()).action is Action.ROLL_BACK


def test_a_stable_revision_as_slow_or_failing_as_the_canary_does_not_block_it() -> None:
    """The limits are relative to the stable revision: a slow day for both is not the canary's fault."""
    slow = window(json.loads((SERIES / "slow.json").read_text())["polls"][0]["canary"])
    failing = window(json.loads((SERIES / "failing.json").read_text())["polls"][0]["canary"])
    assert decide(slow, slow, EVEN, EVEN, 0, Limits()).action is Action.ADVANCE
    assert decide(failing, failing, EVEN, EVEN, 0, Limits()).action is Action.ADVANCE


def test_a_drifted_population_shows_in_both_and_does_not_block_the_canary() -> None:
    shifted = window(json.loads((SERIES / "score_shifted.json").read_text())["polls"][0]["canary"])
    assert decide(shifted, shifted, EVEN, EVEN, 0, Limits()).action is Action.ADVANCE


def test_too_few_records_leave_the_score_unjudged() -> None:
    few = Window(requests=30, server_failures=0, p95_latency_seconds=0.1, band_records={"B10": 30})
    assert decide(few, few, EVEN, EVEN, 0, Limits(min_records_for_psi=500)).action is Action.ADVANCE
    stable = Window(requests=30, server_failures=0, p95_latency_seconds=0.1, band_records=dict.fromkeys(BAND_LABELS, 3))
    assert decide(few, stable, EVEN, EVEN, 0, Limits(min_records_for_psi=10)).figure == "score PSI"

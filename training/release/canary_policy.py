"""What a canary release does next, decided from the figures of one judging window. Pure: no I/O, no clock.

At each traffic step the canary revision and the stable one are compared over the same window on what the function
already logs (infra/monitoring.tf): the share of requests that failed on the server's side, the p95 latency, and the
population stability (PSI) of the score, from the risk-band counts, against the reference of the version each
revision serves (its manifest's validation shares). ``decide`` answers ADVANCE (the step is earned), WAIT (too few
requests to judge yet) or ROLL_BACK (a breach, the metrics cannot be read, or the canary never got enough traffic).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from default_risk.contract.bands import PSI_ACT, psi

SERVER_FAILURES = frozenset({"model_unavailable", "records_unavailable", "overloaded", "internal_error"})
"""Outcomes (``contract.telemetry.OUTCOMES``) that are the revision's fault; client errors depend on the callers."""


class Action(Enum):
    ADVANCE = "advance"
    WAIT = "wait"
    ROLL_BACK = "roll back"


@dataclass(frozen=True)
class Window:
    """One revision's figures over the judging window (read from Cloud Monitoring)."""

    requests: int
    server_failures: int
    p95_latency_seconds: float | None
    band_records: Mapping[str, int]

    @property
    def failed_ratio(self) -> float:
        return self.server_failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Limits:
    """How far a canary may be from the stable revision. Every field has a deploy variable (docs/ci_cd.md)."""

    min_requests: int = 20
    max_wait_seconds: float = 1800.0
    failed_ratio_margin: float = 0.01
    latency_ratio: float = 1.5
    latency_floor_seconds: float = 0.25
    max_score_psi: float = PSI_ACT
    psi_margin: float = 0.1
    min_records_for_psi: int = 500


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    figure: str = ""
    value: float = math.nan
    limit: float = math.nan

    def summary(self) -> str:
        if self.action is not Action.ROLL_BACK or not self.figure:
            return f"{self.action.value}: {self.reason}"
        return f"{self.action.value}: {self.figure} {self.value:.4g} > limit {self.limit:.4g} ({self.reason})"


def score_psi(window: Window, reference_shares: Mapping[str, float]) -> float | None:
    """PSI of the window's band shares against the version's reference; None with too few records to judge."""
    records = sum(window.band_records.values())
    if records == 0:
        return None
    labels = sorted(reference_shares)
    return psi(
        [reference_shares[label] for label in labels], [window.band_records.get(label, 0) / records for label in labels]
    )


def decide(
    canary: Window | None,
    stable: Window | None,
    canary_reference: Mapping[str, float],
    stable_reference: Mapping[str, float],
    waited_seconds: float,
    limits: Limits,
) -> Decision:
    """The next action of one traffic step, from one window of figures (None: the metrics could not be read)."""
    if canary is None or stable is None:
        return Decision(Action.ROLL_BACK, "the metrics could not be read; the stable revision keeps serving")
    if canary.requests < limits.min_requests:
        if waited_seconds >= limits.max_wait_seconds:
            return Decision(
                Action.ROLL_BACK,
                f"the canary got {canary.requests} requests in {waited_seconds:.0f} s, fewer than the "
                f"{limits.min_requests} needed to judge it",
                "canary requests",
                canary.requests,
                limits.min_requests,
            )
        return Decision(Action.WAIT, f"{canary.requests} of {limits.min_requests} requests needed to judge")
    for breach in (_failures(canary, stable, limits), _latency(canary, stable, limits)):
        if breach is not None:
            return breach
    breach = _stability(canary, stable, canary_reference, stable_reference, limits)
    return breach or Decision(Action.ADVANCE, f"healthy over {canary.requests} requests")


def _failures(canary: Window, stable: Window, limits: Limits) -> Decision | None:
    limit = stable.failed_ratio + limits.failed_ratio_margin
    if canary.failed_ratio <= limit:
        return None
    return Decision(
        Action.ROLL_BACK,
        f"{canary.server_failures} of {canary.requests} requests failed; stable {stable.failed_ratio:.4f}",
        "failed-request ratio",
        canary.failed_ratio,
        limit,
    )


def _latency(canary: Window, stable: Window, limits: Limits) -> Decision | None:
    if canary.p95_latency_seconds is None:
        return None
    baseline = stable.p95_latency_seconds or 0.0
    limit = max(baseline * limits.latency_ratio, limits.latency_floor_seconds)
    if canary.p95_latency_seconds <= limit:
        return None
    return Decision(
        Action.ROLL_BACK,
        f"stable p95 {baseline:.3f} s",
        "p95 latency (s)",
        canary.p95_latency_seconds,
        limit,
    )


def _stability(
    canary: Window,
    stable: Window,
    canary_reference: Mapping[str, float],
    stable_reference: Mapping[str, float],
    limits: Limits,
) -> Decision | None:
    """The canary's score PSI may exceed max_score_psi only as far as the stable one does (a drifted population)."""
    if sum(canary.band_records.values()) < limits.min_records_for_psi:
        return None
    canary_psi = score_psi(canary, canary_reference)
    stable_psi = score_psi(stable, stable_reference)
    limit = max(limits.max_score_psi, (stable_psi or 0.0) + limits.psi_margin)
    if canary_psi is None or canary_psi <= limit:
        return None
    stable_text = "no records" if stable_psi is None else f"{stable_psi:.3f}"
    return Decision(Action.ROLL_BACK, f"stable score PSI {stable_text}", "score PSI", canary_psi, limit)

"""Recourse: what change in a customer's actionable fields would bring them down to a target risk band.

Three fields can change, each only in the direction named here; everything else, the payment history
(``PAY_0``..``PAY_6``), ``EDUCATION``, the older amounts and the protected fields, never does. A suggested value
stays inside the contract's range, the training data's (the version's stability reference: its lowest and
highest training values) and the lever's own bounds (a payment of at most the balance, a balance of at least 0),
and the features derived from the fields are recomputed from it, never edited.
"""

from __future__ import annotations

from dataclasses import dataclass

from default_risk.contract.bands import BAND_LABELS
from default_risk.contract.reasons import amount

RAISE, LOWER = 1, -1


@dataclass(frozen=True)
class Lever:
    field: str
    directions: tuple[int, ...]
    """``RAISE`` and/or ``LOWER``: the changes that make sense for this field."""
    phrase: str
    """How the suggestion's sentence names the new value (``{}``: the amount)."""
    at_most_field: str | None = None
    """A field of the same record the new value may not exceed (unless the record already does)."""
    at_least: float | None = None
    """A value the new value may not go below (unless the record already does)."""


LEVERS: tuple[Lever, ...] = (
    Lever("PAY_AMT1", (RAISE,), "a payment of {} this month", at_most_field="BILL_AMT1"),
    Lever("BILL_AMT1", (LOWER,), "a balance of {}", at_least=0.0),
    Lever("LIMIT_BAL", (RAISE, LOWER), "a credit limit of {}"),
)
"""The customer's next payment (taken as the latest payment amount), the balance, and the credit limit (the bank's
lever)."""

ACTIONABLE_FIELDS: tuple[str, ...] = tuple(lever.field for lever in LEVERS)

DEFAULT_TARGET_BAND = "B05"
"""Below the median risk: the upper band of the lower half of the validation population."""

RECOURSE_PARAMETER = "recourse"
"""The query parameter of ``POST /explain`` that asks for recourse: a band label, or ``true`` for the default."""
DEFAULT_VALUE = "true"


def target_band_index(value: str) -> int:
    """The band a ``recourse`` parameter asks for; ValueError naming the accepted values otherwise."""
    label = DEFAULT_TARGET_BAND if value == DEFAULT_VALUE else value
    if label not in BAND_LABELS:
        raise ValueError(f"must be {DEFAULT_VALUE!r} (band {DEFAULT_TARGET_BAND}) or a band from {BAND_LABELS[0]} to "
                         f"{BAND_LABELS[-1]}, got {value[:20]!r}")  # fmt: skip
    return BAND_LABELS.index(label)


def sentence(changes: list[tuple[str, float, float]], band: str, probability: float, points: float) -> str:
    """``a payment of NT$ 4,200 this month (now NT$ 0) would move this customer to band B05 (p = 0.152, 651
    points)`` for changes ``(field, before, after)``."""
    phrases = {lever.field: lever.phrase for lever in LEVERS}
    parts = [f"{phrases[field].format(amount(after))} (now {amount(before)})" for field, before, after in changes]
    return f"{' and '.join(parts)} would move this customer to band {band} (p = {probability:.3f}, {points:.0f} points)"

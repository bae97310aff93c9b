"""Request records from feature rows, as a client would send them."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from default_risk.contract.fields import FEATURE_NAMES


def record(row: Iterable[float]) -> dict:
    """One JSON record; integral values become JSON integers (codes and AGE must be)."""
    return {
        name: int(value) if float(value).is_integer() else float(value)
        for name, value in zip(FEATURE_NAMES, row, strict=True)
    }


def records(rows: np.ndarray) -> list[dict]:
    return [record(row) for row in rows]

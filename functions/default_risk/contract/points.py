"""Scores in points: the probability of default on a scorecard scale, as credit policy is written.

A scale puts ``base_points`` at odds of ``base_odds`` to one (good to bad: customers who repay for each who
defaults), and adds ``points_to_double_odds`` each time those odds double:

    points = offset + factor * ln((1 - p) / p),  factor = points_to_double_odds / ln 2,
    offset = base_points - factor * ln(base_odds).

Higher points mean lower risk. The scale is chosen once (``SCALE``), recorded in every version's manifest (the
``serving`` section's ``score_scale``) and read back from there, so a version's points never change. A probability
is held inside ``[PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]`` first, so that points stay finite.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

PROBABILITY_FLOOR = 1e-6
"""Probabilities are held at least this far from 0 and 1 (±276 points around the base on the default scale)."""


@dataclass(frozen=True)
class ScoreScale:
    base_points: float
    base_odds: float
    """Good to bad: ``50`` means 50 customers repay for each one who defaults."""
    points_to_double_odds: float

    @property
    def factor(self) -> float:
        return self.points_to_double_odds / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)

    def points(self, probabilities: np.ndarray) -> np.ndarray:
        """The points of each probability of default (float64; higher is lower risk)."""
        p = np.clip(probabilities, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
        return self.offset + self.factor * np.log((1 - p) / p)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, recorded: dict) -> ScoreScale:
        scale = cls(**{key: float(recorded[key]) for key in ("base_points", "base_odds", "points_to_double_odds")})
        if scale.base_odds <= 0 or scale.points_to_double_odds <= 0:
            raise ValueError(f"a score scale needs positive odds and points to double them, got {recorded}")
        return scale


SCALE = ScoreScale(base_points=600, base_odds=50, points_to_double_odds=20)
"""The scale new versions record: 600 points at odds of 50 to 1, 20 more points for each doubling of the odds."""

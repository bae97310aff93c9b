"""Scoring and explaining validated records with the served model: the one place records are scored, whatever
protocol brought them (HTTP bodies, BigQuery calls). Knows nothing of bytes: a matrix in, scores out;
``ModelUnavailable`` when the model cannot be served now."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from default_risk.contract.bands import BAND_LABELS, band_indices
from default_risk.model import store
from default_risk.model.explainer import Explanation
from default_risk.model.version import ServedVersion


@dataclass(frozen=True)
class Scores:
    probabilities: np.ndarray
    bands: np.ndarray
    """Each record's band index (``BAND_LABELS``)."""
    points: np.ndarray
    """Each record's score in points on the version's scale (higher is lower risk)."""
    version: str

    @classmethod
    def of(cls, probabilities: np.ndarray, model: ServedVersion) -> Scores:
        """The bands and points of a version's probabilities."""
        bands = band_indices(probabilities, model.score_edges)
        return cls(probabilities, bands, model.scale.points(probabilities), model.version)

    @property
    def band_labels(self) -> list[str]:
        return [BAND_LABELS[band] for band in self.bands.tolist()]


def served_model() -> ServedVersion:
    """The loaded model, loading it if needed; ``store.ModelUnavailable`` when it cannot be."""
    return store.get_model()


def score(features: np.ndarray) -> Scores:
    """Probabilities and risk bands of validated records (``FEATURE_NAMES`` columns), and the version that gave them."""
    model = served_model()
    return Scores.of(model.scorer.probabilities(features), model)


def explain(features: np.ndarray) -> tuple[Scores, Explanation]:
    """The scores of validated records and every group's contribution to each."""
    scores = score(features)
    return scores, served_model().explainer.explain(features)

"""Scoring and explaining validated records with the served model: the one place records are scored (HTTP and
BigQuery alike). The request's log line learns the version, the mean probability and the band counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from default_risk import model_store
from default_risk.api import ApiError
from default_risk.explain import Explanation
from default_risk.stability import BAND_LABELS, band_counts, band_indices
from default_risk.telemetry import RequestLog
from default_risk.validation import ValidationResult
from default_risk.version import ServedVersion


@dataclass(frozen=True)
class Scores:
    probabilities: np.ndarray
    bands: list[str]
    version: str


def served_model() -> ServedVersion:
    """The loaded model, loading it if needed; ``model_unavailable`` (503 with Retry-After) when it cannot be."""
    try:
        return model_store.get_model()
    except model_store.ModelUnavailable as error:
        raise ApiError(
            "model_unavailable",
            "the model is not loaded and could not be loaded now; retry later",
            headers={"Retry-After": str(error.retry_after)},
        ) from error


def score(result: ValidationResult, log: RequestLog) -> Scores:
    """Probabilities and risk bands of validated records, and the version that gave them."""
    model = served_model()
    probabilities = model.scorer.probabilities(result.features)
    bands = band_indices(probabilities, model.score_edges)
    log.model_version = model.version
    log.mean_probability = float(probabilities.mean())
    log.band_counts = band_counts(bands)
    return Scores(probabilities, [BAND_LABELS[band] for band in bands.tolist()], model.version)


def explain(result: ValidationResult, log: RequestLog) -> tuple[Scores, Explanation]:
    """The scores of validated records and every group's contribution to each."""
    scores = score(result, log)
    return scores, served_model().explainer.explain(result.features)

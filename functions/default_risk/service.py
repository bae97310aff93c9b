"""Scoring validated records with the served model: the one place records are scored (HTTP and BigQuery)."""

from __future__ import annotations

import numpy as np

from default_risk import model_store
from default_risk.api import ApiError
from default_risk.telemetry import RequestLog
from default_risk.validation import ValidationResult


def served_model() -> model_store.LoadedModel:
    """The loaded model, loading it if needed; ``model_unavailable`` (503 with Retry-After) when it cannot be."""
    try:
        return model_store.get_model()
    except model_store.ModelUnavailable as error:
        raise ApiError(
            "model_unavailable",
            "the model is not loaded and could not be loaded now; retry later",
            headers={"Retry-After": str(error.retry_after)},
        ) from error


def score(result: ValidationResult, log: RequestLog) -> tuple[np.ndarray, str]:
    """Probabilities of validated records and the model version; the request's log notes both."""
    model = served_model()
    probabilities = model.scorer.probabilities(result.features)
    log.model_version = model.version
    log.mean_probability = float(probabilities.mean())
    return probabilities, model.version

"""The structured logs: one JSON line per request, read by the log-based metrics, and the loggers that write them.

The names below are the contract with ``infra/monitoring.tf``: its filters match
``REQUEST_LOG_MESSAGE`` and its value extractors read the ``jsonPayload`` fields named here.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from default_risk.stability import BAND_LABELS

LOGGER_NAME = "scoring"
"""Our loggers (this one and its children) write structured JSON lines to stdout."""

REQUEST_LOG_MESSAGE = "prediction_request"

LATENCY_FIELD = "latency_seconds"
"""Seconds from the request's arrival to its response (float)."""
INSTANCES_FIELD = "instance_count"
"""Records in the request (0 when the body was not understood)."""
OUTCOME_FIELD = "outcome"
"""One of OUTCOMES."""
STATUS_FIELD = "status_code"
MODEL_VERSION_FIELD = "model_version"
MEAN_PROBABILITY_FIELD = "mean_probability_of_default"
"""Mean predicted probability of the request's records (successful requests only)."""
BAND_COUNTS_FIELD = "risk_band_counts"
"""How many of the request's records fell in each risk band of the loaded version, ``{"B01": n, ...}``
(successful requests only; counts, never values): the score's population stability, per version."""

OUTCOMES: tuple[str, ...] = ("ok", "invalid_input", "too_large", "unsupported", "model_unavailable", "internal_error")
"""``ok`` is a 2xx; every other outcome is a failed request of the kind its name says (``internal_error``: a bug,
answered 503)."""


def logger(name: str | None = None) -> logging.Logger:
    """The request logger, or its child ``name``, writing structured JSON lines to stdout (configured once)."""
    root = logging.getLogger(LOGGER_NAME)
    if not root.handlers:
        from google.cloud.logging_v2.handlers import StructuredLogHandler

        root.addHandler(StructuredLogHandler(stream=sys.stdout, project_id=os.environ.get("GOOGLE_CLOUD_PROJECT")))
        root.setLevel(logging.INFO)
        root.propagate = False
    return root.getChild(name) if name else root


@dataclass
class RequestLog:
    """What the request's log line reports besides latency and outcome; the routes fill it in."""

    instance_count: int = 0
    model_version: str | None = None
    mean_probability: float | None = None
    band_counts: list[int] | None = None

    def fields(self, latency: float, outcome: str, status: int) -> dict[str, object]:
        """The ``jsonPayload`` fields of the request's one log line."""
        fields: dict[str, object] = {
            LATENCY_FIELD: round(latency, 6),
            INSTANCES_FIELD: self.instance_count,
            OUTCOME_FIELD: outcome,
            STATUS_FIELD: status,
            MODEL_VERSION_FIELD: self.model_version,
        }
        if outcome == "ok" and self.mean_probability is not None:
            fields[MEAN_PROBABILITY_FIELD] = self.mean_probability
        if outcome == "ok" and self.band_counts is not None:
            fields[BAND_COUNTS_FIELD] = dict(zip(BAND_LABELS, self.band_counts, strict=True))
        return fields

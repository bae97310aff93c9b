"""The structured request log: one JSON line per request, read by the log-based metrics.

The names below are the contract with ``infra/monitoring.tf``: its filters match
``REQUEST_LOG_MESSAGE`` and its value extractors read the ``jsonPayload`` fields named here.
"""

from __future__ import annotations

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
"""Mean predicted probability of the request's records (successful requests only): the drift signal."""

OUTCOMES: tuple[str, ...] = ("ok", "invalid_input", "too_large", "unsupported", "model_unavailable", "internal_error")
"""``ok`` is a 2xx; every other outcome is a failed request of the kind its name says (``internal_error``: a bug,
answered 503)."""

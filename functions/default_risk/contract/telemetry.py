"""The structured logs: the names of the one JSON line per request, read by the log-based metrics, and the loggers
that write them.

The names below are the contract with ``infra/monitoring.tf``: its filters match ``REQUEST_LOG_MESSAGE`` and its
value extractors read the ``jsonPayload`` fields named here (``protocols.request_log`` fills them in).
"""

from __future__ import annotations

import logging
import os
import sys

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

OUTCOMES: tuple[str, ...] = (
    "ok",
    "invalid_input",
    "too_large",
    "unsupported",
    "model_unavailable",
    "records_unavailable",
    "overloaded",
    "internal_error",
)
"""``ok`` is a 2xx; every other outcome is a failed request of the kind its name says (``records_unavailable``: the
decisions could not be recorded, so none was answered; ``overloaded``: a large request waited too long for one of the
few slots large requests share; ``internal_error``: a bug, answered 503)."""
REQUEST_ID_FIELD = "request_id"
"""The request's id: the ``X-Request-Id`` answer header, and the ``request_id`` of its decision records."""


def _without_request_context(record: logging.LogRecord) -> bool:
    """What the caller sent never shapes a line: the handler would otherwise add the request's URL (query string
    included), user agent and trace header as sent. The request's own line (``protocols.request_log``) logs them
    checked and bounded."""
    record.http_request = record.trace = record.span_id = None
    return True


def logger(name: str | None = None) -> logging.Logger:
    """The service's logger, or its child ``name``, writing structured JSON lines to stdout with google-cloud-logging's
    handler (configured once): loads, failed writes of records, bugs. The request line has its own writer."""
    root = logging.getLogger(LOGGER_NAME)
    if not root.handlers:
        from google.cloud.logging_v2.handlers import StructuredLogHandler

        handler = StructuredLogHandler(stream=sys.stdout, project_id=os.environ.get("GOOGLE_CLOUD_PROJECT"))
        handler.filters.insert(0, _without_request_context)  # before the handler's own filter reads the request
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return root.getChild(name) if name else root

"""The structured logs: the names of the one JSON line per request, read by the log-based metrics, and the loggers
that write them.

The names below are the contract with ``infra/monitoring.tf``: its filters match ``REQUEST_LOG_MESSAGE`` and its
value extractors read the ``jsonPayload`` fields named here (``protocols.request_log`` fills them in).

Every line is Cloud Logging's structured form on standard output (``severity``, ``message``, the fields,
``logging.googleapis.com/labels``), encoded by msgspec and written with one ``write`` call (``write_entry``): no
shared lock, no line ever split or interleaved, and nothing imported at start-up beyond msgspec (google-cloud-
logging's handler cost a third of the function's import time). What a caller sent never reaches a line unchecked.
"""

from __future__ import annotations

import logging
import os
import traceback

import msgspec

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
few slots large requests share, or a request used its time budget before it could be decided; ``internal_error``: a
bug, answered 503)."""
REQUEST_ID_FIELD = "request_id"
"""The request's id: the ``X-Request-Id`` answer header, and the ``request_id`` of its decision records."""


SEVERITIES = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARNING", logging.ERROR: "ERROR",
              logging.CRITICAL: "CRITICAL"}  # fmt: skip
_ENCODER = msgspec.json.Encoder()


def write_entry(entry: dict[str, object]) -> None:
    """One structured log line to standard output, in one ``write`` call."""
    os.write(1, _ENCODER.encode(entry) + b"\n")


class _JsonLines(logging.Handler):
    """Our loggers' lines in the structured form: the record's ``json_fields`` beside its message, a traceback in the
    message (where Error Reporting reads it)."""

    def handle(self, record: logging.LogRecord) -> bool:  # no lock: each line is one write
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info))
        write_entry(
            {
                "severity": SEVERITIES.get(record.levelno, "DEFAULT"),
                "message": message,
                **getattr(record, "json_fields", {}),
                "logging.googleapis.com/labels": {"python_logger": record.name},
            }
        )
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


def logger(name: str | None = None) -> logging.Logger:
    """The service's logger, or its child ``name`` (loads, failed writes of records, bugs), writing structured JSON
    lines to stdout (configured once)."""
    root = logging.getLogger(LOGGER_NAME)
    if not root.handlers:
        root.addHandler(_JsonLines())
        root.setLevel(logging.INFO)
        root.propagate = False
    return root.getChild(name) if name else root

"""The one log line of a request: what the routes learn while answering it, as the log-based metrics read it.

The line is a JSON object in Cloud Logging's structured form (``severity``, ``message``, ``httpRequest``,
``logging.googleapis.com/trace`` and ``/labels``, the fields of ``contract.telemetry``), written by
``telemetry.write_entry``: one ``write`` call, so that threads share no lock and no line is ever split or
interleaved. What the caller controls is bounded and checked before it is logged: the trace id must have its
documented form (32 hexadecimal digits), the URL is logged without its query string (which may carry customer
data), and the path and user agent are cut to ``MAX_LOGGED_TEXT`` characters with every character outside
printable ASCII escaped, so that a line stays one line for any reader (``str.splitlines`` splits on U+0085).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

import flask

from default_risk.contract.bands import BAND_LABELS, band_counts
from default_risk.contract.telemetry import (
    BAND_COUNTS_FIELD,
    INSTANCES_FIELD,
    LATENCY_FIELD,
    LOGGER_NAME,
    MEAN_PROBABILITY_FIELD,
    MODEL_VERSION_FIELD,
    OUTCOME_FIELD,
    REQUEST_ID_FIELD,
    REQUEST_LOG_MESSAGE,
    STATUS_FIELD,
    write_entry,
)
from default_risk.service.ids import new_id
from default_risk.service.scoring import Scores


@dataclass
class RequestLog:
    """What the request's log line reports besides latency and outcome; the routes fill it in."""

    request_id: str = field(default_factory=new_id)
    started: float = field(default_factory=time.monotonic)
    """When the request began (``time.monotonic``): its time budget counts from here (``request_budget``)."""
    instance_count: int = 0
    model_version: str | None = None
    mean_probability: float | None = None
    band_counts: list[int] | None = None

    def scored(self, scores: Scores) -> None:
        """Learn the version, the mean probability and the band counts of the request's scores."""
        self.model_version = scores.version
        self.mean_probability = float(scores.probabilities.mean())
        self.band_counts = band_counts(scores.bands)

    def fields(self, latency: float, outcome: str, status: int) -> dict[str, object]:
        """The ``jsonPayload`` fields of the request's one log line."""
        fields: dict[str, object] = {
            LATENCY_FIELD: round(latency, 6),
            INSTANCES_FIELD: self.instance_count,
            OUTCOME_FIELD: outcome,
            STATUS_FIELD: status,
            MODEL_VERSION_FIELD: self.model_version,
            REQUEST_ID_FIELD: self.request_id,
        }
        if outcome == "ok" and self.mean_probability is not None:
            fields[MEAN_PROBABILITY_FIELD] = self.mean_probability
        if outcome == "ok" and self.band_counts is not None:
            fields[BAND_COUNTS_FIELD] = dict(zip(BAND_LABELS, self.band_counts, strict=True))
        return fields


MAX_LOGGED_TEXT = 256
"""Characters of a request's path or user agent that its log line keeps."""
_TRACE = re.compile(r"([0-9a-f]{32})(?:/[0-9]{1,20})?(?:;o=[01])?")
_PROJECT = os.environ.get("GOOGLE_CLOUD_PROJECT")
_LABELS = {"python_logger": LOGGER_NAME}


def _shown(text: str) -> str:
    """``text`` cut to ``MAX_LOGGED_TEXT`` characters, everything outside printable ASCII escaped."""
    cut = text[:MAX_LOGGED_TEXT] + ("..." if len(text) > MAX_LOGGED_TEXT else "")
    return cut if cut.isascii() and cut.isprintable() else cut.encode("unicode_escape").decode("ascii")


def trace_of(header: str | None) -> str | None:
    """The ``X-Cloud-Trace-Context`` header's trace as Cloud Logging names it, when the header has the documented
    form ``TRACE_ID[/SPAN_ID][;o=OPTIONS]`` and the project is known; None otherwise (never the header as sent)."""
    if not header or not _PROJECT:
        return None
    matched = _TRACE.fullmatch(header.strip())
    return f"projects/{_PROJECT}/traces/{matched[1]}" if matched else None


def request_url(wsgi_environment: dict) -> str:
    """The request's URL without its query string, from the WSGI environment as the server gave it (werkzeug's
    ``base_url`` quotes it again, at ten times the cost; ``_shown`` bounds and escapes it either way)."""
    get = wsgi_environment.get
    host = get("HTTP_HOST") or f"{get('SERVER_NAME', '')}:{get('SERVER_PORT', '')}"
    return f"{get('wsgi.url_scheme', 'http')}://{host}{get('SCRIPT_NAME', '')}{get('PATH_INFO', '') or '/'}"


def write_line(request: flask.Request, fields: dict[str, object]) -> None:
    """The request's log line, written to standard output in one call."""
    wsgi = request.environ
    entry: dict[str, object] = {
        "severity": "INFO",
        "message": REQUEST_LOG_MESSAGE,
        **fields,
        "httpRequest": {
            "requestMethod": _shown(request.method),
            "requestUrl": _shown(request_url(wsgi)),
            "userAgent": _shown(wsgi.get("HTTP_USER_AGENT", "")),
        },
        "logging.googleapis.com/labels": _LABELS,
    }
    trace = trace_of(wsgi.get("HTTP_X_CLOUD_TRACE_CONTEXT"))
    if trace is not None:
        entry["logging.googleapis.com/trace"] = trace
    write_entry(entry)

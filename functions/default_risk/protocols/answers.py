"""Answers as bytes: JSON responses, errors, and the shape of predictions and explanations.

Every error is ``{"error": {"code", "message", "details": [{"instance", "field", "problem"}]}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import flask
import msgspec
import numpy as np

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.limits import ID_FIELD
from default_risk.contract.reasons import GROUP_NAMES
from default_risk.model.explainer import Explanation, reasons
from default_risk.model.store import ModelUnavailable
from default_risk.protocols.validation import Problem
from default_risk.service.scoring import Scores

JSON_MEDIA_TYPE = "application/json"
EXPLAIN_PATH = "/explain"
"""Where records are explained (``explained_predictions``); ``/`` scores them (``predictions``)."""

RESPONSE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

ERROR_STATUSES: dict[str, int] = {
    "invalid_json": 400,
    "invalid_input": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "too_many_instances": 413,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "model_unavailable": 503,
    "internal_error": 503,
}
"""Every error code the API answers with, and its HTTP status."""

_OUTCOME_OF_STATUS = {
    400: "invalid_input",
    404: "unsupported",
    405: "unsupported",
    413: "too_large",
    415: "unsupported",
    503: "model_unavailable",
}


class ApiError(Exception):
    """An error answer: ``code`` is one of ``ERROR_STATUSES``."""

    def __init__(
        self, code: str, message: str, details: Iterable[Problem] = (), headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, list(details)
        self.status = ERROR_STATUSES[code]
        self.headers = dict(headers or {})

    @property
    def outcome(self) -> str:
        """The request log's outcome for this error."""
        return "internal_error" if self.code == "internal_error" else _OUTCOME_OF_STATUS[self.status]

    def response(self) -> flask.Response:
        details = [{"instance": p.instance, "field": p.field, "problem": p.problem} for p in self.details]
        body = {"error": {"code": self.code, "message": self.message, "details": details}}
        return json_response(body, self.status, self.headers)


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> flask.Response:
    """A JSON answer with the API's headers (never cached: every answer is about one customer or one moment)."""
    return flask.Response(
        msgspec.json.encode(body), status, {**RESPONSE_HEADERS, **(headers or {})}, mimetype=JSON_MEDIA_TYPE
    )


def unavailable(error: ModelUnavailable) -> ApiError:
    """The 503 answer (with Retry-After) for a model that cannot be served now."""
    return ApiError(
        "model_unavailable",
        "the model is not loaded and could not be loaded now; retry later",
        headers={"Retry-After": str(error.retry_after)},
    )


def predictions(scores: Scores, ids: list[str | None]) -> list[dict]:
    """One answer per record, in order: ``probability_of_default``, ``risk_band``, ``score`` (points) and the
    record's ``id`` if sent."""
    columns = zip(scores.probabilities.tolist(), scores.band_labels, scores.points.tolist(), ids, strict=True)
    return [
        {"probability_of_default": p, "risk_band": band, "score": points}
        if record_id is None
        else {"probability_of_default": p, "risk_band": band, "score": points, ID_FIELD: record_id}
        for p, band, points, record_id in columns
    ]


def explained_predictions(
    features: np.ndarray, ids: list[str | None], scores: Scores, explanation: Explanation, *, full: bool
) -> list[dict]:
    """One answer per record, in order: ``probability_of_default``, ``risk_band``, ``score``, ``reasons`` and, when
    ``full``, every group's ``contributions`` and the record's ``id``."""
    answers = []
    labels, points = scores.band_labels, scores.points.tolist()
    for row, contributions in enumerate(explanation.contributions):
        record = dict(zip(FEATURE_NAMES, features[row].tolist(), strict=True))
        answer = {
            "probability_of_default": float(scores.probabilities[row]),
            "risk_band": labels[row],
            "score": points[row],
            "reasons": reasons(record, contributions),
        }
        if full:
            answer["contributions"] = dict(zip(GROUP_NAMES, contributions.tolist(), strict=True))
            if ids[row] is not None:
                answer[ID_FIELD] = ids[row]
        answers.append(answer)
    return answers

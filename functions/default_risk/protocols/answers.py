"""Answers as bytes: JSON responses, errors, and the shape of predictions and explanations.

Every error is ``{"error": {"code", "message", "details": [{"instance", "field", "problem"}]}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import flask
import msgspec

from default_risk.contract.bands import BAND_LABELS
from default_risk.contract.limits import ID_FIELD
from default_risk.contract.reasons import GROUP_NAMES
from default_risk.contract.recourse import RECOURSE_PARAMETER, sentence, target_band_index
from default_risk.model.recourse import Suggestion
from default_risk.model.store import ModelUnavailable
from default_risk.protocols.validation import Problem
from default_risk.service.decisions import Decisions
from default_risk.service.records import RecordsUnavailable

JSON_MEDIA_TYPE = "application/json"
EXPLAIN_PATH = "/explain"
"""Where records are explained (``explained_predictions``); ``/`` scores them (``predictions``)."""

RECORDS_RETRY_AFTER_SECONDS = 1
RESPONSE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

ERROR_STATUSES: dict[str, int] = {
    "invalid_json": 400,
    "malformed_body": 400,
    "invalid_input": 400,
    "malformed_request": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "body_timeout": 408,
    "too_many_instances": 413,
    "body_too_large": 413,
    "request_line_too_long": 414,
    "unsupported_media_type": 415,
    "expectation_failed": 417,
    "headers_too_large": 431,
    "unsupported_transfer_coding": 501,
    "model_unavailable": 503,
    "records_unavailable": 503,
    "overloaded": 503,
    "deadline_exceeded": 503,
    "internal_error": 503,
}
"""Every error code the API answers with, and its HTTP status. ``SERVER_ERRORS`` are the server's own, answered before
the function runs (``server``)."""
SERVER_ERRORS = ("malformed_request", "request_line_too_long", "expectation_failed", "headers_too_large",
                 "unsupported_transfer_coding")  # fmt: skip

_OUTCOME_OF_CODE = {
    "internal_error": "internal_error",
    "records_unavailable": "records_unavailable",
    "overloaded": "overloaded",
    "deadline_exceeded": "overloaded",
}
"""The 503s that are not the model's unavailability: their own outcome (a request out of time is a capacity
problem, as one that waited too long for a slot)."""
_OUTCOME_OF_STATUS = {
    400: "invalid_input",
    404: "unsupported",
    405: "unsupported",
    408: "invalid_input",
    413: "too_large",
    414: "too_large",
    415: "unsupported",
    417: "unsupported",
    431: "too_large",
    501: "unsupported",
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
        return _OUTCOME_OF_CODE.get(self.code) or _OUTCOME_OF_STATUS[self.status]

    def response(self) -> flask.Response:
        details = [{"instance": p.instance, "field": p.field, "problem": p.problem} for p in self.details]
        body = {"error": {"code": self.code, "message": self.message, "details": details}}
        return json_response(body, self.status, self.headers)


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> flask.Response:
    """A JSON answer with the API's headers (never cached: every answer is about one customer or one moment)."""
    return flask.Response(
        msgspec.json.encode(body), status, {**RESPONSE_HEADERS, **(headers or {})}, mimetype=JSON_MEDIA_TYPE
    )


def unavailable(error: ModelUnavailable | RecordsUnavailable) -> ApiError:
    """The 503 answer (with Retry-After) when the model cannot be served or the decisions cannot be recorded now."""
    if isinstance(error, RecordsUnavailable):
        return ApiError(
            "records_unavailable",
            "the decisions could not be recorded, so none is answered; retry later",
            headers={"Retry-After": str(RECORDS_RETRY_AFTER_SECONDS)},
        )
    return ApiError(
        "model_unavailable",
        "the model is not loaded and could not be loaded now; retry later",
        headers={"Retry-After": str(error.retry_after)},
    )


def predictions(decisions: Decisions, ids: list[str | None]) -> list[dict]:
    """One answer per record, in order: ``decision_id``, ``probability_of_default``, ``risk_band``, ``score`` (points)
    and the record's ``id`` if sent."""
    scores = decisions.scores
    probabilities, points = scores.probabilities.tolist(), scores.points.tolist()
    columns = zip(decisions.decision_ids, probabilities, scores.band_labels, points, ids, strict=True)
    answers = [
        {"decision_id": decision, "probability_of_default": p, "risk_band": band, "score": score}
        for decision, p, band, score, _ in columns
    ]
    for answer, record_id in zip(answers, ids, strict=True):
        if record_id is not None:
            answer[ID_FIELD] = record_id
    return answers


def explained_predictions(
    decisions: Decisions, ids: list[str | None], *, full: bool, recourse_target: int | None = None
) -> list[dict]:
    """One answer per record, in order: ``probability_of_default``, ``risk_band``, ``score``, ``reasons`` and, when
    ``full`` (HTTP, where each decision's id can travel), ``decision_id``, every group's ``contributions``, the
    ``recourse`` when asked for (toward ``recourse_target``) and the record's ``id``."""
    scores, answers = decisions.scores, []
    labels, points = scores.band_labels, scores.points.tolist()
    for row, contributions in enumerate(decisions.explanation.contributions.tolist()):
        answer = {
            "probability_of_default": float(scores.probabilities[row]),
            "risk_band": labels[row],
            "score": points[row],
            "reasons": decisions.reasons[row],
        }
        if full:
            answer = {"decision_id": decisions.decision_ids[row], **answer}
            answer["contributions"] = dict(zip(GROUP_NAMES, contributions, strict=True))
            if decisions.recourse is not None and recourse_target is not None:
                answer[RECOURSE_PARAMETER] = recourse_answer(decisions.recourse[row], BAND_LABELS[recourse_target])
            if ids[row] is not None:
                answer[ID_FIELD] = ids[row]
        answers.append(answer)
    return answers


def recourse_target(query: Mapping[str, str]) -> int | None:
    """The target band the query asks recourse for (``?recourse=B05``, or ``true`` for the default), or None."""
    value = query.get(RECOURSE_PARAMETER)
    if value is None:
        return None
    try:
        return target_band_index(value)
    except ValueError as error:
        raise ApiError(
            "invalid_input",
            f"query parameter {RECOURSE_PARAMETER}: {error}",
            [Problem(None, RECOURSE_PARAMETER, str(error))],
        ) from error


def recourse_answer(suggestions: list[Suggestion] | None, target_band: str) -> dict:
    """A record's recourse: ``not_needed`` (already at or below the target band), ``found`` with the suggestions
    (single fields from the smallest change, then the best pair), or ``no_feasible_change``."""
    if suggestions is None:
        return {"target_band": target_band, "status": "not_needed", "suggestions": []}
    return {
        "target_band": target_band,
        "status": "found" if suggestions else "no_feasible_change",
        "suggestions": [
            {
                "changes": [{"field": c.field, "from": c.before, "to": c.after} for c in s.changes],
                "probability_of_default": s.probability,
                "risk_band": BAND_LABELS[s.band],
                "score": s.points,
                "monotone": s.monotone,
                "sentence": sentence(
                    [(c.field, c.before, c.after) for c in s.changes], BAND_LABELS[s.band], s.probability, s.points
                ),
            }
            for s in suggestions
        ],
    }

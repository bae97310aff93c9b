"""The HTTP surface shared by every route: limits, reading a JSON body, JSON responses and errors.

Every error is ``{"error": {"code", "message", "details": [{"instance", "field", "problem"}]}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import IO

import flask

from default_risk.validation import MAX_PROBLEMS, Problem, shown_name

MAX_INSTANCES = 10_000
"""Records per request; more is answered 413."""
MAX_BODY_BYTES = 8 * 1024 * 1024
"""Request body size; more is answered 413 (checked on Content-Length before reading, and while reading)."""
JSON_MEDIA_TYPE = "application/json"
READ_PIECE_BYTES = 64 * 1024
"""Bodies are read (and unread rests discarded) in pieces of this size, so memory stays bounded."""

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
        json.dumps(body, allow_nan=False), status, {**RESPONSE_HEADERS, **(headers or {})}, mimetype=JSON_MEDIA_TYPE
    )


def read_json(request: flask.Request) -> object:
    """The decoded JSON body, after the media-type and size checks (415, 413, 400)."""
    if request.mimetype != JSON_MEDIA_TYPE:
        raise ApiError(
            "unsupported_media_type", f"Content-Type must be {JSON_MEDIA_TYPE}, got {request.mimetype or 'none'}"
        )
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError("body_too_large", f"body is {request.content_length} bytes; the limit is {MAX_BODY_BYTES}")
    body = _read_body(request.stream)
    if len(body) > MAX_BODY_BYTES:
        raise ApiError("body_too_large", f"body exceeds the limit of {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body, object_pairs_hook=_without_duplicate_keys)
    except _DuplicateKey as error:
        raise ApiError(
            "invalid_input",
            "a JSON object in the body has the same key twice",
            [Problem(None, shown_name(error.key), "appears more than once in one object")],
        ) from None
    except (ValueError, RecursionError) as error:
        raise ApiError("invalid_json", f"body is not valid JSON: {error}") from None


def _read_body(stream: IO[bytes]) -> bytearray:
    """The body, up to one byte past ``MAX_BODY_BYTES``, read in pieces: an endless chunked upload
    (no Content-Length) costs little more memory than the limit, not the several copies of it that
    one large read makes the server's chunked reader hold."""
    body = bytearray()
    while len(body) <= MAX_BODY_BYTES:
        piece = stream.read(min(READ_PIECE_BYTES, MAX_BODY_BYTES + 1 - len(body)))
        if not piece:
            break
        body += piece
    return body


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    """``json.loads`` hook: a key twice in one object is refused, never silently last-wins."""
    decoded = dict(pairs)
    if len(decoded) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return decoded


def instances_of(payload: object) -> list:
    """The records of a prediction request: ``{"instances": [...]}`` or one bare record ``{...}``."""
    if not isinstance(payload, dict):
        raise ApiError("invalid_input", 'body must be a JSON object: {"instances": [...]} or one record')
    if "instances" not in payload:
        return [payload]
    unknown = [Problem(None, shown_name(name), "is not a known field") for name in payload if name != "instances"]
    unknown = unknown[:MAX_PROBLEMS]
    if unknown:
        raise ApiError("invalid_input", "the request has unknown top-level fields", unknown)
    instances = payload["instances"]
    if not isinstance(instances, list) or not instances:
        raise ApiError(
            "invalid_input",
            "instances must be a non-empty JSON array of records",
            [Problem(None, "instances", "must be a non-empty array")],
        )
    if len(instances) > MAX_INSTANCES:
        raise ApiError("too_many_instances", f"{len(instances)} instances; the limit is {MAX_INSTANCES} per request")
    return instances

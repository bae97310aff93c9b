"""The HTTP surface shared by every route: limits, reading a JSON body, JSON responses and errors.

Every error is ``{"error": {"code", "message", "details": [{"instance", "field", "problem"}]}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import IO

import flask
import msgspec

from default_risk.validation import Problem

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
        msgspec.json.encode(body), status, {**RESPONSE_HEADERS, **(headers or {})}, mimetype=JSON_MEDIA_TYPE
    )


def read_body(request: flask.Request) -> bytes:
    """The body of a JSON request, after the media-type and size checks (415, 413)."""
    if request.mimetype != JSON_MEDIA_TYPE:
        raise ApiError(
            "unsupported_media_type", f"Content-Type must be {JSON_MEDIA_TYPE}, got {request.mimetype or 'none'}"
        )
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError("body_too_large", f"body is {request.content_length} bytes; the limit is {MAX_BODY_BYTES}")
    body = _read_body(request.stream)
    if len(body) > MAX_BODY_BYTES:
        raise ApiError("body_too_large", f"body exceeds the limit of {MAX_BODY_BYTES} bytes")
    return bytes(body)


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

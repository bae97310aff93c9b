"""The server's own answers in the API's terms: what gunicorn answers before any code of ours runs.

gunicorn reads a request's line and headers before it calls the function, and answers those it cannot read itself:
an HTML page that repeats what it could not read. functions-framework also turns gunicorn's request-line limit off
(``limit_request_line = 0``, and it offers no setting to turn it on), so a megabyte of path is read, held and repeated
in that page. ``install`` (``main.py``, once, before functions-framework builds its server) makes those answers the
documented JSON error, whose message repeats nothing the caller sent, and bounds the request line at
``MAX_REQUEST_LINE_BYTES`` (414 past it). gunicorn is pinned with the function (``requirements.txt``), and
``tests/reliability/test_server_errors.py`` holds a real server to this.
"""

from __future__ import annotations

import gunicorn.config
import gunicorn.util
import msgspec

from default_risk.contract.limits import MAX_REQUEST_LINE_BYTES
from default_risk.protocols.answers import ERROR_STATUSES, RESPONSE_HEADERS, SERVER_ERRORS

SERVER_ERROR_CODES: dict[int, str] = {ERROR_STATUSES[code]: code for code in SERVER_ERRORS}
"""The statuses gunicorn answers a request it cannot read with, and their codes. It has others (403, 500) for a proxy
protocol, TLS or a configuration this deployment does not use: they keep their status and answer
``malformed_request``."""

_MESSAGES = {
    400: "the request line or a header is not HTTP/1.1 as RFC 9112 writes it",
    414: f"the request line is longer than {MAX_REQUEST_LINE_BYTES} bytes",
    417: "the request's Expect header asks for what the server does not do",
    431: "the headers are too many or too large",
    501: "the Transfer-Encoding is not one the server reads (only chunked is)",
}


def _bounded_request_line(value: object) -> int:
    """gunicorn's validation of ``limit_request_line``, with 0 ("unlimited") read as ``MAX_REQUEST_LINE_BYTES``."""
    limit = gunicorn.config.validate_pos_int(value)
    return limit if 0 < limit <= MAX_REQUEST_LINE_BYTES else MAX_REQUEST_LINE_BYTES


def _write_error(sock: object, status: int, reason: str, message: str) -> None:
    """gunicorn's ``util.write_error``, answering the API's JSON error instead of its HTML page."""
    code = SERVER_ERROR_CODES.get(status, SERVER_ERROR_CODES[400])
    text = _MESSAGES.get(status, _MESSAGES[400])
    body = msgspec.json.encode({"error": {"code": code, "message": f"{text}; nothing of it was read", "details": []}})
    headers = "".join(f"{name}: {value}\r\n" for name, value in RESPONSE_HEADERS.items())
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    """Answer gunicorn's own errors as JSON and bound its request line (idempotent)."""
    gunicorn.util.write_error = _write_error
    gunicorn.config.LimitRequestLine.validator = staticmethod(_bounded_request_line)

"""The server's own work in the API's terms: what gunicorn does with a request before any code of ours runs.

gunicorn reads a request's line and headers on one of its threads before it calls the function, and answers those it
cannot read itself, with an HTML page that repeats what it could not read. functions-framework fixes gunicorn's
worker and options, with no setting to change them: it turns the request-line limit off (``limit_request_line =
0``), so a megabyte of path is read, held and repeated in that page, and nothing bounds how long a head may take to
arrive. ``install`` (``main.py``, once, before functions-framework builds its server):

- answers those requests with the documented JSON error, whose message repeats nothing the caller sent;
- bounds the request line at ``MAX_REQUEST_LINE_BYTES`` (414 past it);
- puts the reading of each head under the body's watchdog (``body_deadline.Watchdog.head``): a head that trickles
  past the deadline, or for over ``SLOW_AFTER_SECONDS`` while every thread is busy, frees its thread.

gunicorn is pinned with the function (``requirements.txt``); ``tests/reliability/test_server_errors.py`` and
``test_slow_senders.py`` hold a real server to this.
"""

from __future__ import annotations

import gunicorn.config
import gunicorn.util
import msgspec
from gunicorn.workers.gthread import ThreadWorker

from default_risk.contract.limits import MAX_REQUEST_LINE_BYTES
from default_risk.protocols.answers import ERROR_STATUSES, RESPONSE_HEADERS, SERVER_ERRORS
from default_risk.protocols.body_deadline import watchdog

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


_gunicorns_handle, _gunicorns_handle_request = ThreadWorker.handle, ThreadWorker.handle_request


def _handle_watched(worker: ThreadWorker, connection: object) -> object:
    """gunicorn's handling of a connection on one of its threads, its head read under the watchdog."""
    with watchdog.head(connection.sock):
        return _gunicorns_handle(worker, connection)


def _handle_request_once_read(worker: ThreadWorker, request: object, connection: object) -> object:
    """gunicorn's handling of a request whose head it has read: the head's watch ends first."""
    watchdog.head_arrived()
    return _gunicorns_handle_request(worker, request, connection)


def install() -> None:
    """Answer gunicorn's own errors as JSON, bound its request line and watch its heads (idempotent)."""
    gunicorn.util.write_error = _write_error
    gunicorn.config.LimitRequestLine.validator = staticmethod(_bounded_request_line)
    ThreadWorker.handle, ThreadWorker.handle_request = _handle_watched, _handle_request_once_read

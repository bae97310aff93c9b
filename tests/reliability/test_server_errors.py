"""What the server answers before the function runs: requests gunicorn cannot read get the documented JSON error, with
a message that repeats nothing they sent, and a request line is read up to its bound only."""

from __future__ import annotations

import json

import pytest

from default_risk.contract.limits import MAX_REQUEST_LINE_BYTES
from default_risk.protocols.answers import ERROR_STATUSES
from tests.reliability.rawhttp import send_bytes
from tests.support.http import request
from tests.support.local_cloud import Server

SECRET = b"ACCT-7741-SECRET"
"""Something a caller sent that no answer may repeat."""


def raw_answer(server: Server, data: bytes) -> tuple[int, dict[str, str], dict]:
    """Send ``data`` as it is; (status, headers, decoded JSON body) of the answer, which must repeat nothing sent."""
    answer = send_bytes(server.url, data)
    assert SECRET not in answer.body, "the answer repeats what the caller sent"
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["content-length"]) == len(answer.body)
    return answer.status, answer.headers, json.loads(answer.body)


CASES = [
    ("not a request line", b"NOT A REQUEST " + SECRET + b"\r\n\r\n", 400),
    ("a header without a colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + SECRET + b"\r\n\r\n", 400),
    ("a request line over the bound", b"GET /docs/" + SECRET + b"x" * 1_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("a header of 20 KB", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + SECRET + b"a" * 20_000 + b"\r\n\r\n", 431),
    (
        "an expectation other than 100-continue",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: " + SECRET + b"\r\n\r\n",
        417,
    ),
    ("an unknown transfer coding", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + SECRET + b"\r\n\r\n{}", 501),
]


@pytest.mark.parametrize(("data", "status"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_request_the_server_cannot_read_gets_the_documented_json_error(
    scoring_server: Server, data: bytes, status: int
) -> None:
    answered, headers, body = raw_answer(scoring_server, data)
    assert answered == status
    assert ERROR_STATUSES[body["error"]["code"]] == status and body["error"]["details"] == []
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    assert request(scoring_server.url + "/healthz").status == 200, "the server serves on"


def test_a_request_line_at_the_bound_is_read_and_one_byte_more_is_not(scoring_server: Server) -> None:
    def with_line_of(length: int) -> int:
        start, end = b"GET /", b" HTTP/1.1"
        line = start + b"x" * (length - len(start) - len(end)) + end
        return raw_answer(scoring_server, line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")[0]

    assert with_line_of(MAX_REQUEST_LINE_BYTES) == 404  # read, routed: no such path
    assert with_line_of(MAX_REQUEST_LINE_BYTES + 1) == 414

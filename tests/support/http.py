"""Plain-HTTP helpers for talking to a function server and reading its structured log lines."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from default_risk.contract.telemetry import REQUEST_LOG_MESSAGE


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    json: object = field(default=None)


def request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30
) -> Response:
    """One HTTP request; 4xx/5xx come back as a Response, not an exception."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            status, raw_headers, data = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, raw_headers, data = error.code, error.headers, error.read()
    headers_dict = {k.lower(): v for k, v in raw_headers.items()}
    decoded = json.loads(data) if headers_dict.get("content-type", "").startswith("application/json") else None
    return Response(status, headers_dict, data, decoded)


def post_json(url: str, payload: object, headers: dict[str, str] | None = None, timeout: float = 30) -> Response:
    """POST ``payload`` as JSON."""
    return request(
        url, "POST", json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}, timeout
    )


def log_lines(output: str) -> list[dict]:
    """Every JSON object line of a server's output (the structured logs)."""
    lines = []
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def request_logs(output: str) -> list[dict]:
    """The per-request log lines of a server's output."""
    return [line for line in log_lines(output) if line.get("message") == REQUEST_LOG_MESSAGE]

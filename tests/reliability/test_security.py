"""Security checks: nothing of the customer's in the logs, bounded error bodies, API headers, no secrets."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

from tests.reliability.hostile import SAMPLE_RECORD
from tests.reliability.measure import MB
from tests.reliability.rawhttp import send
from tests.support.http import post_json, request
from tests.support.local_cloud import ROOT, Server

DISTINCT_ID = "CUSTOMER-zq81-7c4e-ID"
DISTINCT_AMOUNT = 7654321.125
DISTINCT_BAD_AMOUNT = -3141592.65
"""A negative credit limit: invalid, so the 400 path must not log it either."""
LONG = 200_000
MAX_SNIPPET = 200
"""Longest run of one request's input that an error body may echo."""


def test_logs_hold_no_feature_values_or_ids(scoring_server: Server) -> None:
    good = {**SAMPLE_RECORD, "BILL_AMT3": DISTINCT_AMOUNT, "id": DISTINCT_ID}
    bad = {**SAMPLE_RECORD, "LIMIT_BAL": DISTINCT_BAD_AMOUNT, "id": DISTINCT_ID + "-bad"}
    assert post_json(scoring_server.url + "/", {"instances": [good]}).status == 200
    assert post_json(scoring_server.url + "/", {"instances": [bad]}).status == 400
    output = scoring_server.output()
    assert '"message"' in output, "the server wrote no structured log at all"
    for secret in (DISTINCT_ID, str(DISTINCT_AMOUNT), str(DISTINCT_BAD_AMOUNT), "7654321", "3141592"):
        assert secret not in output, f"{secret!r} appears in the server's logs"


@pytest.mark.parametrize(
    "record",
    [
        {**SAMPLE_RECORD, "LIMIT_BAL": "x" * LONG},
        {**SAMPLE_RECORD, "AGE": 10**4000},
        {**SAMPLE_RECORD, "x" * LONG: 1},
        {**SAMPLE_RECORD, "id": "x" * LONG},
        {**SAMPLE_RECORD, "PAY_0": ["x" * LONG]},
    ],
    ids=["long string value", "4000-digit number", "long field name", "long id", "long nested value"],
)
def test_error_bodies_echo_only_a_bounded_snippet(scoring_server: Server, record: dict) -> None:
    answer = send(
        scoring_server.url + "/", body=json.dumps(record).encode(), headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400, answer.body[:300]
    longest_run = max(len(match) for match in re.findall(rb"(x+|9+|0+)", answer.body + b"x"))
    assert longest_run <= MAX_SNIPPET, f"the error body echoes {longest_run} characters of input"
    assert len(answer.body) <= 4096, f"error body of {len(answer.body)} bytes for one bad field"


def test_a_long_unknown_path_is_not_echoed_back(scoring_server: Server) -> None:
    """A megabyte of path is not even read: the request line's bound answers it (``protocols.server``)."""
    answer = send(scoring_server.url + "/" + "x" * MB, "GET")
    assert answer.status == 414 and answer.json()["error"]["code"] == "request_line_too_long"
    assert len(answer.body) <= 1024 and b"xxxx" not in answer.body, f"an error of {len(answer.body)} bytes"


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status"),
    [
        ("POST", "/", json.dumps(SAMPLE_RECORD).encode(), "application/json", 200),
        ("POST", "/", b'{"instances": [{}]}', "application/json", 400),
        ("POST", "/", b"LIMIT_BAL=1", "text/plain", 415),
        ("PUT", "/", b"{}", "application/json", 405),
        ("GET", "/", None, None, 200),
        ("GET", "/healthz", None, None, 200),
        ("GET", "/openapi.json", None, None, 200),
    ],
)
def test_responses_carry_api_headers(scoring_server: Server, method, path, body, content_type, status) -> None:
    answer = request(scoring_server.url + path, method, body, {"Content-Type": content_type} if content_type else {})
    assert answer.status == status, answer.body[:300]
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    assert answer.headers.get("cache-control") == "no-store", answer.headers
    assert answer.headers.get("x-content-type-options") == "nosniff", answer.headers


BASELINE = ROOT / ".secrets.baseline"
"""detect-secrets' baseline: findings audited as not secret (``is_secret: false``), e.g. a test's trace id."""


def repository_files() -> list[str]:
    """Every file git would commit (tracked, and untracked but not ignored), the baseline aside."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [name for name in listed if (ROOT / name).is_file() and ROOT / name != BASELINE]


DIGEST_LINE = re.compile(r'^\s*("sha256": "[0-9a-f]{64}"|"commit": "[0-9a-f]{40}"),?$')
"""A manifest's content digest (``artifacts``) or the git commit of its lineage: high-entropy hex by design, never a
secret."""


def scan(paths: list[str], cwd: Path) -> set[tuple[str, str, str]]:
    """(file, type, hashed secret) of every finding of detect-secrets' default plugins and filters,
    less the lines that are content digests."""
    secrets = SecretsCollection(root=str(cwd))
    with default_settings():
        secrets.scan_files(*paths, num_processors=1)
    found = set()
    for name, secrets_in_file in secrets.json().items():
        lines = (cwd / name).read_text(errors="replace").splitlines()
        for secret in secrets_in_file:
            if not DIGEST_LINE.match(lines[secret["line_number"] - 1]):
                found.add((name, secret["type"], secret["hashed_secret"]))
    return found


def test_the_scanner_finds_a_planted_key(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{"AKIA" + "IOSFODNN7EXAMPLE"}"\n')
    assert scan(["settings.py"], tmp_path), "detect-secrets missed an AWS key: the repository scan would prove nothing"


def test_repository_holds_no_secrets() -> None:
    files = repository_files()
    assert len(files) > 20, files
    audited = {
        (name, s["type"], s["hashed_secret"])
        for name, found in json.loads(BASELINE.read_text())["results"].items()
        for s in found
        if s.get("is_secret") is False
    }
    new = scan(files, ROOT) - audited
    assert not new, f"possible secrets (remove them, or audit them into {BASELINE.name}): {sorted(new)}"

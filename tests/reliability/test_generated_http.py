"""Generated requests against the real server: schemathesis on /openapi.json and HTTP properties.

``make reliability`` runs the same functions with ≥ 10,000 requests; here they are smaller.
"""

from __future__ import annotations

from pathlib import Path

from tests.reliability.generated import http_properties, run_schemathesis
from tests.support.local_cloud import Server


def test_schemathesis_finds_no_server_error_and_no_nonconformance(scoring_server: Server, tmp_path: Path) -> None:
    tally = run_schemathesis(scoring_server.url, max_examples=25, report_dir=tmp_path)
    assert tally.requests >= 100, tally.statuses
    assert tally.server_errors == 0, tally.statuses
    assert tally.failures == [], tally.failures[0]


def test_valid_records_score_in_unit_interval_and_bad_fields_get_named(scoring_server: Server) -> None:
    tally = http_properties(scoring_server.url, examples=100)
    assert tally.requests >= 200, tally.statuses
    assert set(tally.statuses) == {200, 400}, tally.statuses

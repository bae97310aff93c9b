"""Hand-made hostile requests: each gets its documented status, quickly, without a memory blow-up."""

from __future__ import annotations

import pytest

from tests.reliability.hostile import CASES, SAMPLE_RECORD, Case, run_case
from tests.support.http import post_json
from tests.support.local_cloud import Server


@pytest.fixture(scope="module")
def warm_server(scoring_server: Server) -> Server:
    """The session's server with its model loaded, so memory measured below is the request's own."""
    assert post_json(scoring_server.url + "/", SAMPLE_RECORD).status == 200
    return scoring_server


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_request_gets_its_documented_status(warm_server: Server, case: Case) -> None:
    result = run_case(warm_server, case)
    assert result.problems == [], result.problems

"""Hand-made hostile requests: each gets its documented status, quickly, without a memory blow-up."""

from __future__ import annotations

import pytest

from tests.infra.terraform import kubernetes_bytes, named_blocks
from tests.reliability.hostile import CASES, HEAVIEST, SAMPLE_RECORD, Case, at_once_problems, run_at_once, run_case
from tests.reliability.measure import MB
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


@pytest.mark.parametrize("case", HEAVIEST, ids=[case.name for case in HEAVIEST])
def test_as_many_worst_bodies_as_an_instance_serves_at_once_stay_inside_its_memory(
    warm_server: Server, case: Case
) -> None:
    variables = named_blocks("variable")
    concurrency = int(variables["function_concurrency"]["default"])
    memory = kubernetes_bytes(variables["function_memory"]["default"])
    answers, before, peak = run_at_once(warm_server, case, concurrency)
    assert at_once_problems(answers, case) == []
    assert peak < memory, f"{concurrency} at once: peak {peak / MB:.0f} MB (from {before / MB:.0f} MB)"

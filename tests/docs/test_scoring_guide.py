"""The scoring guide's memory budget is the one the code enforces and the tests measure; its requests and logged
outcomes are the function's."""

from __future__ import annotations

import re

import pytest

from default_risk.contract import telemetry
from default_risk.contract.artifacts import MODELS_PREFIX, declared_version
from default_risk.contract.bands import BAND_LABELS, band_indices
from default_risk.contract.limits import MAX_BODY_BYTES
from default_risk.model.version import read_local_version
from default_risk.protocols import answers, budget
from default_risk.protocols.decoding import scoring_request
from default_risk.protocols.request_log import RequestLog
from tests.docs import project
from tests.docs.running import ECHO_DATA, json_values, run, shell_prelude
from tests.docs.shell import ROOT, commands
from tests.reliability.hostile import MAX_RSS_GROWTH
from tests.reliability.measure import MB

GUIDE = ROOT / "docs" / "user_guides" / "scoring_api.md"


def budget_table() -> dict[str, str]:
    """The guide's budget table: what the body holds → its bound."""
    section = GUIDE.read_text().split("### The memory budget of one request", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (?!what|---)([^|]+?) \| ([^|]+?) \|", section, re.MULTILINE)
    return dict(rows)


def test_the_guide_states_the_limits_the_code_enforces() -> None:
    assert budget_table() == {
        "bytes": f"{MAX_BODY_BYTES // MB} MiB",
        "JSON values (commas)": f"{budget.MAX_VALUES:,}",
        "JSON objects and arrays": f"{budget.MAX_CONTAINERS:,}",
        "members of one object": f"{budget.MAX_OBJECT_MEMBERS}",
    }


def test_the_guide_states_the_peak_the_hostile_tests_hold_the_server_to() -> None:
    assert f"raises an instance's peak memory by more than {MAX_RSS_GROWTH // MB} MB" in GUIDE.read_text()


def test_the_guide_lists_every_route_and_every_logged_outcome() -> None:
    text = GUIDE.read_text()
    routes, docs_prefix = project.function_paths()
    for route in [*sorted(routes), docs_prefix.rstrip("/")]:
        assert f" {route}`" in text, f"the guide's table of requests leaves out {route}"
    logs = text.split("## Logs", 1)[1]
    listed = logs.split(f"`{telemetry.OUTCOME_FIELD}` (", 1)[1].split(")", 1)[0]
    assert re.findall(r"`(\w+)`", listed) == list(telemetry.OUTCOMES)


def test_the_recourse_example_is_what_the_promoted_version_answers() -> None:
    """The guide's recourse answer, recomputed: the record its curl sends, scored and searched by the promoted
    version as ``POST /explain?recourse=`` does."""
    text = GUIDE.read_text()
    section = text.split("### What would lower the risk: recourse", 1)[1].split("\n## ", 1)[0]
    (curl,) = [c for c in commands(GUIDE) if c.program == "curl" and "recourse=" in c.source]
    target = re.search(r"recourse=(B\d\d)", curl.source)[1]
    (shown,) = json_values(re.search(r"^```json\n(.*?)^```", section, re.MULTILINE | re.DOTALL)[1])
    version = read_local_version(ROOT / MODELS_PREFIX / declared_version(ROOT / MODELS_PREFIX))
    body = run(f"{shell_prelude(curl)}\n{ECHO_DATA}\n{curl.source.split(' | ')[0]}")  # the body, not jq's output
    features = scoring_request(body.encode(), RequestLog()).result.features
    probabilities = version.scorer.probabilities(features)
    bands = band_indices(probabilities, version.score_edges)
    expected = answers.recourse_answer(version.recourse.suggest(features, bands, BAND_LABELS.index(target))[0], target)
    assert shown["risk_band"] == BAND_LABELS[bands[0]]
    assert shown["score"] == pytest.approx(version.scale.points(probabilities)[0], abs=1e-6)
    assert shown["recourse"] == expected

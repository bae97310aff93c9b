"""The scoring guide's memory budget is the one the code enforces and the tests measure."""

from __future__ import annotations

import re

from default_risk.contract.limits import MAX_BODY_BYTES
from default_risk.protocols import budget
from tests.docs.shell import ROOT
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

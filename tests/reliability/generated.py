"""Generated requests against a running function server: schemathesis and hypothesis properties.

``run_schemathesis`` runs schemathesis' own CLI on the server's ``/openapi.json`` with every
check (server errors, status codes, content types, headers and bodies conforming to the document,
negative data rejected, positive data accepted) and counts each request it sent from its HAR.
``http_properties`` posts hypothesis-generated records: valid ones must score in [0, 1], records
with one bad field must get a 400 naming that field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.records import invalid_records, valid_records

SCHEMATHESIS = Path(sys.executable).parent / "st"
HERE = Path(__file__).resolve().parent


@dataclass
class Tally:
    """Requests sent and the statuses they got."""

    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


def run_schemathesis(url: str, max_examples: int, report_dir: Path, seed: int = 6) -> Tally:
    """schemathesis' CLI with all checks and both generation modes; failures hold its summary."""
    har = report_dir / "schemathesis.har"
    command = [
        str(SCHEMATHESIS),
        f"--config-file={HERE / 'schemathesis.toml'}",
        "run",
        f"{url}/openapi.json",
        "--checks=all",
        "--mode=all",
        f"--max-examples={max_examples}",
        f"--seed={seed}",
        "--workers=1",
        "--request-timeout=30",
        "--suppress-health-check=all",
        "--report=har",
        f"--report-har-path={har}",
        "--no-color",
    ]
    env = os.environ | {"SCHEMATHESIS_HOOKS": str(HERE / "schemathesis_hooks.py")}
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=3600, check=False, cwd=report_dir, env=env
    )  # its caches go to report_dir, not into the repository
    tally = Tally()
    for entry in json.loads(har.read_text())["log"]["entries"]:
        tally.statuses[entry["response"]["status"]] += 1
    if completed.returncode != 0:
        tally.failures.append(completed.stdout[-6000:] + completed.stderr[-2000:])
    return tally


def _post(session: requests.Session, url: str, payload: object, tally: Tally) -> requests.Response:
    answer = session.post(url, data=json.dumps(payload), headers={"Content-Type": "application/json"}, timeout=30)
    tally.statuses[answer.status_code] += 1
    return answer


def http_properties(url: str, examples: int) -> Tally:
    """Run both HTTP properties with ``examples`` examples each; a counterexample raises."""
    tally = Tally()
    session = requests.Session()
    config = settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))

    @config
    @given(st.lists(valid_records(), min_size=1, max_size=10), st.booleans())
    def valid_records_score(records: list[dict], bare: bool) -> None:
        payload = records[0] if bare and len(records) == 1 else {"instances": records}
        answer = _post(session, url, payload, tally)
        assert answer.status_code == 200, answer.text[:500]
        predictions = answer.json()["predictions"]
        assert len(predictions) == len(records)
        for record, prediction in zip(records, predictions, strict=True):
            assert 0.0 <= prediction["probability_of_default"] <= 1.0, prediction
            assert prediction.get("id") == record.get("id"), (prediction, record.get("id"))

    @config
    @given(invalid_records(), st.lists(valid_records(with_id=False), max_size=3))
    def invalid_field_named(bad: tuple[dict, str], others: list[dict]) -> None:
        record, name = bad
        answer = _post(session, url, {"instances": [*others, record]}, tally)
        assert answer.status_code == 400, f"{answer.status_code}: {answer.text[:500]}"
        details = answer.json()["error"]["details"]
        assert any(d["field"] == name and d["instance"] == len(others) for d in details), (name, details)

    valid_records_score()
    invalid_field_named()
    return tally

"""`make replay` and `make notice`: a decision the function answered, shown and scored again from its record."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from default_risk.service.records import read_objects
from tests.support.http import post_json
from tests.support.local_cloud import RECORDS_FOLDER, ROOT
from tests.support.records import record


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "training.audit", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def decided(tmp_path_factory, model_env, keras_reference) -> dict:
    """A function server's records of one scored and one explained decision (the server is stopped after)."""
    from tests.support.local_cloud import function_server

    work = tmp_path_factory.mktemp("audit")
    rows, _ = keras_reference
    with function_server(model_env, work) as server:
        scored = post_json(server.url, record(rows[10]) | {"id": "cust-10"}).json["predictions"][0]
        explained = post_json(server.url + "/explain", record(rows[11])).json["predictions"][0]
    return {"store": work / RECORDS_FOLDER, "scored": scored, "explained": explained}


def test_a_scored_and_an_explained_decision_replay_bit_for_bit(decided, tiny_version_dir: Path) -> None:
    models = str(tiny_version_dir.parent)
    for kind in ("scored", "explained"):
        done = audit("replay", f"--decision={decided[kind]['decision_id']}", f"--decisions={decided['store']}",
                     f"--models={models}")  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "replays bit for bit" in done.stdout
    assert "reasons" in done.stdout


def test_a_record_that_the_version_does_not_give_is_reported_with_its_differences(
    decided, tiny_version_dir: Path, tmp_path: Path
) -> None:
    altered = tmp_path / "altered"
    shutil.copytree(decided["store"], altered)
    target = decided["scored"]["decision_id"]
    for name, data in read_objects(str(altered)):
        path = Path(name)
        lines = [json.loads(line) for line in data.decode().splitlines()]
        for line in lines:
            if line["decision_id"] == target:
                line["probability_of_default"] += 1e-12
        path.chmod(0o644)
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = audit("replay", f"--decision={target}", f"--decisions={altered}", f"--models={tiny_version_dir.parent}")
    assert done.returncode == 1
    assert "does NOT replay identically" in done.stdout and "probability_of_default: recorded" in done.stdout


def test_a_decision_or_version_that_cannot_be_found_or_verified_exits_3(decided, tmp_path: Path) -> None:
    unknown = audit("replay", "--decision=018f2b4e-0000-7000-8000-000000000000", f"--decisions={decided['store']}")
    assert unknown.returncode == 3 and "is not under" in unknown.stderr
    no_models = audit("replay", f"--decision={decided['scored']['decision_id']}", f"--decisions={decided['store']}",
                      f"--models={tmp_path}")  # fmt: skip
    assert no_models.returncode == 3 and "cannot be read and verified" in no_models.stderr
    not_an_id = audit("notice", "--decision=not-a-uuid", f"--decisions={decided['store']}")
    assert not_an_id.returncode == 3 and "Traceback" not in not_an_id.stderr


def test_the_notice_states_the_principal_reasons_recorded_or_replayed(decided, tiny_version_dir: Path) -> None:
    explained = audit("notice", f"--decision={decided['explained']['decision_id']}", f"--decisions={decided['store']}")
    assert explained.returncode == 0, explained.stderr
    text = explained.stdout
    assert text.startswith("STATEMENT OF CREDIT DENIAL, TERMINATION OR CHANGE")
    reasons = [reason["reason"] for reason in decided["explained"]["reasons"]]
    assert [line[6:] for line in text.splitlines() if line.startswith("  [x] ")] == reasons[:4]
    assert "Equal Credit Opportunity Act" in text
    scored = audit("notice", f"--decision={decided['scored']['decision_id']}", f"--decisions={decided['store']}",
                   f"--models={tiny_version_dir.parent}")  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert "Applicant: cust-10" in scored.stdout and "Part I" in scored.stdout

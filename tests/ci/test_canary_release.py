"""A release end to end: `python -m training.release.canary` driving a stand-in gcloud on PATH (the service's
revisions, tags and traffic in a file) and reading a stand-in Cloud Monitoring API fed a recorded series.

Each path ends with the traffic split it must: a healthy canary at 100%, anything else back on the stable revision,
and a failing canary never keeps traffic.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from default_risk.contract.artifacts import MODELS_PREFIX, declared_version
from tests.support.gcloud_standin import install, read_state, service_with, write_state
from tests.support.local_cloud import ROOT
from tests.support.monitoring_standin import monitoring_standin

SERIES = Path(__file__).parent / "canary_series"
SERVICE = "default-risk-predict"
STABLE = f"{SERVICE}-00001-old"
CANARY = f"{SERVICE}-00002-new"
WHERE = [f"--service={SERVICE}", "--project=acme-risk-prod", "--region=europe-west1"]
VERSION = declared_version(ROOT / MODELS_PREFIX)


class Release:
    """One service in the stand-in, and the commands a deploy runs against it."""

    def __init__(self, tmp_path: Path, state: dict | None) -> None:
        self.state_file = tmp_path / "gcloud-state.json"
        self.env = install(tmp_path / "bin", self.state_file, state)
        self.summary = tmp_path / "summary.md"

    def canary(self, *args: str, wait: bool = True) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
        command = [sys.executable, "-m", "training.release.canary", args[0], *WHERE, *args[1:]]
        options = {"cwd": ROOT, "env": self._env(), "text": True}
        if not wait:
            return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)
        return subprocess.run(command, capture_output=True, timeout=120, **options)

    def gcloud(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["gcloud", *args], capture_output=True, text=True, env=self._env(), timeout=60)

    def _env(self) -> dict[str, str]:
        return os.environ | self.env

    def service(self) -> dict:
        return read_state(self.state_file)["services"][SERVICE]

    def split(self) -> dict[str, int]:
        service = self.service()
        split = {r: p for r, p in service["percents"].items() if p}
        if service["latest"]:
            split[service["latest_ready"]] = split.get(service["latest_ready"], 0) + service["latest"]
        return split

    def traffic_calls(self) -> list[str]:
        calls = read_state(self.state_file)["calls"]
        return [arg for call in calls if "update-traffic" in call for arg in call if arg.startswith("--to-revisions=")]

    def deploy_new_revision(self) -> None:
        """What the workflow's deploy step does: gcloud functions deploy, without moving traffic."""
        deployed = self.gcloud("functions", "deploy", SERVICE, "--gen2", "--update-labels=release-id=f2")
        assert deployed.returncode == 0, deployed.stderr

    def start(self) -> None:
        """prepare, deploy, tag: a canary with no traffic yet."""
        prepared = self.canary("prepare", "--fingerprint=f2")
        assert prepared.returncode == 0, prepared.stderr
        assert prepared.stdout.splitlines() == ["deploy=true", "first_release=false", f"stable_revision={STABLE}"]
        self.deploy_new_revision()
        tagged = self.canary("tag")
        assert tagged.returncode == 0, tagged.stderr
        assert tagged.stdout.splitlines() == [
            f"canary_revision={CANARY}",
            f"canary_url=https://canary---{SERVICE}-abc123-ew.a.run.app",
            f"stable_revision={STABLE}",
        ]
        assert self.split() == {STABLE: 100}


def run_args(api: str, summary: Path, *extra: str) -> list[str]:
    return [
        "run",
        f"--canary-version={VERSION}",
        f"--stable-version={VERSION}",
        "--steps=10,50,100",
        "--bake-seconds=0",
        "--poll-seconds=0.05",
        f"--monitoring-api={api}",
        f"--summary={summary}",
        *extra,
    ]


@pytest.fixture
def release(tmp_path: Path) -> Release:
    return Release(tmp_path, service_with(SERVICE, [STABLE], STABLE, labels={"release-id": "f1"}))


def test_a_healthy_canary_earns_every_step_and_ends_with_all_traffic(release: Release) -> None:
    release.start()
    with monitoring_standin(SERIES / "healthy.json", CANARY, STABLE) as (api, recording):
        done = release.canary(*run_args(api, release.summary))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "promoted=true"
    assert release.split() == {CANARY: 100}
    assert release.service()["tags"] == {}
    assert release.traffic_calls() == [
        f"--to-revisions={STABLE}=100",
        f"--to-revisions={CANARY}=10,{STABLE}=90",
        f"--to-revisions={CANARY}=50,{STABLE}=50",
        f"--to-revisions={CANARY}=100",
        f"--to-revisions={CANARY}=100",
    ]
    assert {revision for _, revision in recording.queries} == {CANARY, STABLE}  # filtered by revision
    assert f"canary {CANARY} promoted to 100% through steps 10, 50, 100" in release.summary.read_text()


@pytest.mark.parametrize(
    ("series", "extra", "summary"),
    [
        ("slow", [], "p95 latency (s) 1.2 > limit 0.25"),
        ("failing", [], "failed-request ratio 0.1667 > limit 0.01"),
        ("score_shifted", [], "score PSI"),
        ("metrics_unavailable", [], "the metrics could not be read"),
        ("no_traffic", ["--max-wait-seconds=0.3"], "fewer than the 20 needed to judge it"),
    ],
)
def test_a_canary_that_fails_its_checks_never_keeps_traffic(release: Release, series, extra, summary) -> None:
    release.start()
    with monitoring_standin(SERIES / f"{series}.json", CANARY, STABLE) as (api, _):
        done = release.canary(*run_args(api, release.summary, *extra))
    assert done.returncode == 1
    assert done.stdout.strip() == "promoted=false"
    assert release.split() == {STABLE: 100}
    assert release.service()["tags"] == {}
    assert f"canary {CANARY} rolled back at 10%: roll back: " in done.stderr
    assert summary in release.summary.read_text()


def test_a_canary_failing_at_the_second_step_goes_back_to_stable(release: Release) -> None:
    release.start()
    with monitoring_standin(SERIES / "fails_at_the_second_step.json", CANARY, STABLE) as (api, _):
        done = release.canary(*run_args(api, release.summary))
    assert done.returncode == 1 and "rolled back at 50%: roll back: failed-request ratio" in done.stderr
    assert release.split() == {STABLE: 100}
    assert release.traffic_calls()[-1] == f"--to-revisions={STABLE}=100"


def test_a_canary_waits_for_enough_requests_then_is_judged(release: Release) -> None:
    release.start()
    with monitoring_standin(SERIES / "no_traffic_then_enough.json", CANARY, STABLE) as (api, _):
        done = release.canary(*run_args(api, release.summary))
    assert done.returncode == 0 and "step 10%: wait: 3 of 20 requests needed to judge" in done.stderr
    assert release.split() == {CANARY: 100}


@pytest.mark.parametrize(("action", "split", "code"), [("promote", {CANARY: 100}, 0), ("abort", {STABLE: 100}, 1)])
def test_a_dispatch_promotes_or_aborts_a_canary_in_flight_and_the_run_stops(release: Release, action, split, code):
    release.start()
    with monitoring_standin(SERIES / "no_traffic.json", CANARY, STABLE) as (api, _):
        running = release.canary(*run_args(api, release.summary, "--max-wait-seconds=60"), wait=False)
        deadline = time.monotonic() + 30
        while release.split() == {STABLE: 100} and time.monotonic() < deadline:  # until the 10% step is set
            time.sleep(0.05)
        by_hand = release.canary(action)
        _, err = running.communicate(timeout=60)
    assert by_hand.returncode == 0, by_hand.stderr
    assert running.returncode == code, err
    assert f"was {'promoted' if action == 'promote' else 'aborted'} by hand" in err
    assert release.split() == split and release.service()["tags"] == {}


def test_an_unchanged_release_is_a_no_op(release: Release) -> None:
    prepared = release.canary("prepare", "--fingerprint=f1")  # the fingerprint the service carries
    assert prepared.returncode == 0, prepared.stderr
    assert "deploy=false" in prepared.stdout.splitlines()
    assert release.traffic_calls() == [] and release.service()["tags"] == {}


def test_the_same_release_after_a_traffic_rollback_deploys_again(release: Release) -> None:
    release.start()
    assert release.canary("promote").returncode == 0 and release.split() == {CANARY: 100}
    rollback = release.gcloud("run", "services", "update-traffic", SERVICE, f"--to-revisions={STABLE}=100")
    assert rollback.returncode == 0, rollback.stderr  # the runbook's lever 2A: the newest revision no longer serves
    prepared = release.canary("prepare", "--fingerprint=f2")  # the fingerprint the newest revision carries
    assert prepared.returncode == 0, prepared.stderr
    assert prepared.stdout.splitlines() == ["deploy=true", "first_release=false", f"stable_revision={STABLE}"]


def test_the_first_release_has_no_stable_revision_to_pin(tmp_path: Path) -> None:
    release = Release(tmp_path, None)
    prepared = release.canary("prepare", "--fingerprint=f1")
    assert prepared.returncode == 0, prepared.stderr
    assert prepared.stdout.splitlines() == ["deploy=true", "first_release=true", "stable_revision="]


def test_a_release_refuses_to_start_over_a_canary_in_flight_or_a_split_by_hand(release: Release) -> None:
    release.start()
    again = release.canary("prepare", "--fingerprint=f3")
    assert again.returncode == 1 and f"a canary ({CANARY}) is in flight" in again.stderr
    assert release.canary("abort").returncode == 0
    release.gcloud("run", "services", "update-traffic", SERVICE, f"--to-revisions={CANARY}=30,{STABLE}=70")
    split = release.canary("prepare", "--fingerprint=f3")
    assert split.returncode == 1 and "traffic is split by hand" in split.stderr
    assert "Traceback" not in again.stderr + split.stderr


def test_a_deploy_that_moved_traffic_or_made_no_revision_is_not_tagged(release: Release) -> None:
    prepared = release.canary("prepare", "--fingerprint=f2")
    assert prepared.returncode == 0
    none = release.canary("tag")
    assert none.returncode == 1 and "created no new ready revision" in none.stderr
    release.gcloud("functions", "deploy", SERVICE, "--gen2", "--serve-all-traffic-latest-revision")
    moved = release.canary("tag")
    assert moved.returncode == 1 and "already has 100% of the traffic" in moved.stderr


def test_a_gcloud_failure_is_one_line_and_changes_nothing(release: Release) -> None:
    release.start()
    write_state(release.state_file, read_state(release.state_file) | {"fail_on": ["update-traffic"]})
    with monitoring_standin(SERIES / "healthy.json", CANARY, STABLE) as (api, _):
        done = release.canary(*run_args(api, release.summary))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: gcloud run services update-traffic failed:")
    assert release.split() == {STABLE: 100}

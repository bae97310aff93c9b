"""Publishing against the real gcp-storage-emulator: only what changed is uploaded, and verified."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from default_risk.contract.artifacts import MANIFEST_FILE, MODEL_FILE, PREP_FILE, VERSION_FILES
from tests.support.local_cloud import emulator_env, storage_emulator
from training.config import BASELINE, BASELINE_MARGIN, QUALITY_GATE
from training.release.gate import check_quality_gate
from training.release.publish import PublishError, object_name, publish_version

ALL_FILES = (*VERSION_FILES, MANIFEST_FILE)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with storage_emulator(tmp_path_factory.mktemp("gcs")) as running:
        yield running


@pytest.fixture
def client(emulator, monkeypatch):
    from google.cloud import storage

    for name, value in emulator_env(emulator).items():
        monkeypatch.setenv(name, value)
    return storage.Client()


@pytest.fixture
def bucket(client):
    return client.create_bucket(f"models-{uuid.uuid4().hex[:12]}")


def test_publish_uploads_once_then_skips_an_unchanged_version(tiny_run, client, bucket):
    _, result = tiny_run
    first = publish_version(result.version_dir, bucket.name, client)
    assert first.uploaded == ALL_FILES and first.skipped == ()
    assert first.model_url == f"gs://{bucket.name}/models/{result.version}/{MODEL_FILE}"
    assert first.prep_url == f"gs://{bucket.name}/models/{result.version}/{PREP_FILE}"
    for name in ALL_FILES:
        assert (
            bucket.blob(object_name(result.version, name)).download_as_bytes()
            == (result.version_dir / name).read_bytes()
        )

    again = publish_version(result.version_dir, bucket.name, client)
    assert again.uploaded == () and again.skipped == ALL_FILES


def test_publish_never_replaces_an_object_of_a_published_version(tiny_run, client, bucket, tmp_path):
    _, result = tiny_run
    publish_version(result.version_dir, bucket.name, client)
    tampered = bucket.blob(object_name(result.version, PREP_FILE))
    tampered.metadata = {"sha256": "0" * 64}
    tampered.upload_from_string(b"not the preprocessor")

    with pytest.raises(PublishError, match=rf"{PREP_FILE} exists with other content .* never replaced"):
        publish_version(result.version_dir, bucket.name, client)
    assert tampered.download_as_bytes() == b"not the preprocessor"

    # A re-export of the same version with another manifest (another run) is refused too: the bucket keeps its own.
    copy = tmp_path / result.version
    shutil.copytree(result.version_dir, copy)
    manifest = json.loads((copy / MANIFEST_FILE).read_text()) | {"note": "a second run"}
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    bucket.blob(object_name(result.version, PREP_FILE)).upload_from_filename(str(copy / PREP_FILE))
    published_manifest = bucket.blob(object_name(result.version, MANIFEST_FILE)).download_as_bytes()
    with pytest.raises(PublishError, match=rf"{MANIFEST_FILE} exists with other content"):
        publish_version(copy, bucket.name, client)
    assert bucket.blob(object_name(result.version, MANIFEST_FILE)).download_as_bytes() == published_manifest


def test_publish_completes_a_partly_published_version(tiny_run, client, bucket):
    _, result = tiny_run
    publish_version(result.version_dir, bucket.name, client)
    bucket.blob(object_name(result.version, MANIFEST_FILE)).delete()  # an interrupted publish: manifest goes last
    completed = publish_version(result.version_dir, bucket.name, client)
    assert completed.uploaded == (MANIFEST_FILE,) and set(completed.skipped) == set(VERSION_FILES)


def test_publish_refuses_a_local_version_that_does_not_match_its_manifest(tiny_run, client, bucket, tmp_path):
    _, result = tiny_run
    copy = tmp_path / result.version
    shutil.copytree(result.version_dir, copy)
    (copy / MODEL_FILE).write_bytes(b"truncated")
    with pytest.raises(PublishError, match=f"{MODEL_FILE} of version {result.version}"):
        publish_version(copy, bucket.name, client)
    assert list(client.list_blobs(bucket.name)) == []


def test_publish_to_a_missing_bucket_is_a_readable_error(tiny_run, client):
    with pytest.raises(PublishError, match="bucket 'no-such-bucket' does not exist"):
        publish_version(tiny_run[1].version_dir, "no-such-bucket", client)


def _cli(args: list[str], emulator) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"]} | emulator_env(emulator)
    return subprocess.run(
        [sys.executable, "-m", "training.release.publish", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_prints_the_urls_and_enforces_the_quality_gate(tiny_run, emulator, bucket):
    config, result = tiny_run
    args = ["--bucket", bucket.name, "--models-dir", str(config.models_dir)]
    done = _cli(args, emulator)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"VERSION={result.version}",
        f"MODEL_URL=gs://{bucket.name}/models/{result.version}/{MODEL_FILE}",
        f"PREP_URL=gs://{bucket.name}/models/{result.version}/{PREP_FILE}",
    ]

    # The tiny test model is far below the gate: the CI deploy would stop here.
    assert check_quality_gate(result.manifest)
    gated = _cli([*args, "--require-quality-gate"], emulator)
    assert gated.returncode == 1 and gated.stdout == ""
    assert "misses the quality gate" in gated.stderr and "Traceback" not in gated.stderr

    missing = _cli(["--bucket", bucket.name, "--models-dir", str(config.models_dir), "--version", "v0"], emulator)
    assert missing.returncode == 1 and "version 'v0' not found" in missing.stderr


def _fairness(air_by_group: dict[str, tuple[float, int]], attribute: str = "SEX", gated: bool = True) -> dict:
    groups = [{"group": name, "air": air, "rows": rows} for name, (air, rows) in air_by_group.items()]
    return {"attributes": [{"attribute": attribute, "gated": gated, "groups": groups}]}


VALIDATION = {"validation": {"roc_auc": 0.780}, "baselines_validation": {BASELINE: {"roc_auc": 0.781}}}
"""Validation ROC-AUC 0.001 below the baseline's: within the margin."""
COMMITTED = {"lineage": {"code": {"commit": "a" * 40, "clean": True, "changed_files": []}}}


def test_quality_gate_thresholds():
    fair = _fairness({"male": (0.93, 2400), "female": (1.0, 3600)})
    good = {"metrics": {"test": {"roc_auc": 0.78, "brier": 0.135, "ece": 0.01}, **VALIDATION}, "fairness": fair}
    assert check_quality_gate(good | COMMITTED) == []
    bad = {"metrics": {"test": {"roc_auc": 0.77, "brier": 0.135}, **VALIDATION}, "fairness": fair} | COMMITTED
    failures = check_quality_gate(bad)
    assert len(failures) == 2 and "roc_auc = 0.7700" in failures[0] and "ece is missing" in failures[1]
    assert QUALITY_GATE == {"roc_auc": (">=", 0.775), "brier": ("<=", 0.137), "ece": ("<=", 0.02)}


def test_the_four_fifths_rule_gates_protected_groups_of_100_rows_or_more():
    metrics = {"metrics": {"test": {"roc_auc": 0.78, "brier": 0.135, "ece": 0.01}, **VALIDATION}} | COMMITTED
    unfair = _fairness({"under 25": (0.79, 541), "25-34": (1.0, 2518), "62+": (0.5, 46)}, "age band")
    (failure,) = check_quality_gate(metrics | {"fairness": unfair})
    assert "age band group 'under 25' (541 test rows) has an adverse-impact ratio of 0.790, below 0.8" in failure
    reported_only = _fairness({"others": (0.5, 2000), "university": (1.0, 2774)}, "EDUCATION", gated=False)
    assert check_quality_gate(metrics | {"fairness": reported_only}) == []
    assert "no fairness report" in check_quality_gate(metrics)[0]


def test_a_model_more_than_the_margin_below_the_baseline_on_validation_is_refused():
    fair = _fairness({"male": (0.93, 2400), "female": (1.0, 3600)})
    test = {"roc_auc": 0.78, "brier": 0.135, "ece": 0.01}
    for served, refused in ((0.7830, False), (0.7790, False), (0.7785, True)):
        figures = {"validation": {"roc_auc": served}, "baselines_validation": {BASELINE: {"roc_auc": 0.7809}}}
        failures = check_quality_gate({"metrics": {"test": test, **figures}, "fairness": fair} | COMMITTED)
        assert bool(failures) == refused, (served, failures)
    (failure,) = failures
    assert f"more than {BASELINE_MARGIN} below {BASELINE}'s 0.7809" in failure


def test_a_version_without_a_commit_or_trained_from_uncommitted_changes_is_refused():
    fair = _fairness({"male": (0.93, 2400), "female": (1.0, 3600)})
    passing = {"metrics": {"test": {"roc_auc": 0.78, "brier": 0.135, "ece": 0.01}, **VALIDATION}, "fairness": fair}
    (no_lineage,) = check_quality_gate(passing)
    assert "names no commit" in no_lineage
    dirty = {"code": {"commit": "b" * 40, "clean": False, "changed_files": ["training/model.py"]}}
    (uncommitted,) = check_quality_gate(passing | {"lineage": dirty})
    assert "does not hold (training/model.py)" in uncommitted

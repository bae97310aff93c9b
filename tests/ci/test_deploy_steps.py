"""The deploy workflow's own step scripts, run with bash as Actions runs them, against real local servers.

The publish step runs ``python -m training.release.publish`` against gcp-storage-emulator (the publisher the
training pipeline owns and tests through its Python API; here its CLI, exactly as the workflow calls
it). The resolve step vets versions with ``training.release.promote``; the smoke step calls a real
functions-framework server serving a tiny real model.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest

from default_risk.contract.artifacts import (
    LATEST_POINTER,
    MANIFEST_FILE,
    MODEL_FILE,
    MODELS_PREFIX,
    PREP_FILE,
    PROMOTED_POINTER,
    VERSION_FILES,
    declared_version,
    sha256_hex,
    version_from_hashes,
)
from default_risk.contract.fields import FEATURE_NAMES
from tests.ci.workflows import DEPLOY_WORKFLOW, ROOT, github_outputs, load, run_step, step
from tests.support.gcs import storage_client
from tests.support.local_cloud import Server, emulator_env, storage_emulator
from training.config import BASELINE, QUALITY_GATE
from training.release.promote import PromotionError, promote

PROMOTED_VERSION = declared_version(ROOT / MODELS_PREFIX)
RETAINED_VERSIONS = sorted(path.name for path in (ROOT / MODELS_PREFIX).glob("v*/") if path.name != PROMOTED_VERSION)

DEPLOY = load(DEPLOY_WORKFLOW)
PASSING = {name: threshold for name, (_, threshold) in QUALITY_GATE.items()}  # exactly on the gate passes
MISSES_AUC = PASSING | {"roc_auc": QUALITY_GATE["roc_auc"][1] - 0.05}
FAIR = {"attributes": [{"attribute": "SEX", "gated": True, "groups": [{"group": "female", "air": 1.0, "rows": 500}]}]}
"""A fairness report that passes the four-fifths rule (the tiny model's manifest has none)."""
ON_PAR = {"validation": {"roc_auc": 0.78}, "baselines_validation": {BASELINE: {"roc_auc": 0.78}}}
"""Validation figures level with the baseline's."""
COMMITTED = {"code": {"commit": "0" * 40, "clean": True, "changed_files": []}}
"""Lineage of a version trained from a commit's code alone."""


@pytest.fixture(scope="module")
def ci_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with storage_emulator(tmp_path_factory.mktemp("ci-emulator")) as server:
        yield server


def workspace(root: Path, version_dir: Path, test_metrics: dict | None) -> Path:
    """A checkout-like folder holding ``models/<version>/``, its manifest's test metrics replaced."""
    models = root / MODELS_PREFIX
    target = models / version_dir.name
    shutil.copytree(version_dir, target)
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    manifest["metrics"] = {} if test_metrics is None else {"test": test_metrics, **ON_PAR}
    manifest["fairness"] = FAIR
    manifest["lineage"] = COMMITTED
    (target / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    (models / LATEST_POINTER).write_text(version_dir.name + "\n")
    return root


def bucket_objects(emulator: Server, bucket_name: str) -> dict[str, tuple[bytes, str]]:
    """``{object name: (content, generation)}`` of a bucket in the emulator."""
    bucket = storage_client(emulator).bucket(bucket_name)
    return {blob.name: (blob.download_as_bytes(), str(blob.generation)) for blob in bucket.list_blobs()}


def run_publish_step(emulator: Server, cwd: Path, bucket: str, version: str, output: Path):
    env = emulator_env(emulator) | {
        "MODEL_BUCKET": bucket,
        "MODEL_VERSION": version,
        "GITHUB_OUTPUT": str(output),
    }
    return run_step(step(DEPLOY, "publish"), env, cwd)


def test_publish_step_uploads_once_then_nothing_and_never_replaces_an_object(
    tmp_path: Path, tiny_version_dir: Path, ci_emulator: Server
) -> None:
    version = tiny_version_dir.name
    cwd = workspace(tmp_path / "checkout", tiny_version_dir, PASSING)
    storage_client(ci_emulator).create_bucket("ci-models")
    prefix = f"{MODELS_PREFIX}/{version}"
    local = {f"{prefix}/{name}": (cwd / prefix / name).read_bytes() for name in (*VERSION_FILES, MANIFEST_FILE)}

    first = run_publish_step(ci_emulator, cwd, "ci-models", version, tmp_path / "out1")
    assert first.returncode == 0, first.stderr
    assert github_outputs(tmp_path / "out1") == {
        "VERSION": version,
        "MODEL_URL": f"gs://ci-models/{prefix}/{MODEL_FILE}",
        "PREP_URL": f"gs://ci-models/{prefix}/{PREP_FILE}",
    }
    stored = bucket_objects(ci_emulator, "ci-models")
    assert {name: content for name, (content, _) in stored.items()} == local

    second = run_publish_step(ci_emulator, cwd, "ci-models", version, tmp_path / "out2")
    assert second.returncode == 0, second.stderr
    assert "uploaded []" in second.stderr
    assert bucket_objects(ci_emulator, "ci-models") == stored  # same bytes, same generations: nothing written
    assert github_outputs(tmp_path / "out2") == github_outputs(tmp_path / "out1")

    # An object whose content differs from the local file (damaged, or replaced by hand) stops the deploy:
    # a published version is never replaced, and the bucket is left as it was.
    storage_client(ci_emulator).bucket("ci-models").blob(f"{prefix}/{PREP_FILE}").upload_from_string(b"damaged")
    damaged = bucket_objects(ci_emulator, "ci-models")
    third = run_publish_step(ci_emulator, cwd, "ci-models", version, tmp_path / "out3")
    assert third.returncode == 1 and "never replaced" in third.stderr and "Traceback" not in third.stderr
    assert github_outputs(tmp_path / "out3") == {}
    assert bucket_objects(ci_emulator, "ci-models") == damaged


@pytest.mark.parametrize(
    ("test_metrics", "problem"),
    [(MISSES_AUC, "test roc_auc = "), (None, "test roc_auc is missing from the manifest")],
    ids=["below-gate", "no-metrics"],
)
def test_publish_step_refuses_a_version_that_misses_the_quality_gate(
    tmp_path: Path, tiny_version_dir: Path, ci_emulator: Server, test_metrics: dict | None, problem: str
) -> None:
    bucket = f"ci-refused-{'none' if test_metrics is None else 'low'}"
    cwd = workspace(tmp_path / "checkout", tiny_version_dir, test_metrics)
    storage_client(ci_emulator).create_bucket(bucket)

    result = run_publish_step(ci_emulator, cwd, bucket, tiny_version_dir.name, tmp_path / "out")
    assert result.returncode == 1
    assert "misses the quality gate" in result.stderr and problem in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert bucket_objects(ci_emulator, bucket) == {}
    assert "MODEL_URL" not in github_outputs(tmp_path / "out")


def run_resolve_step(cwd: Path, requested: str, output: Path):
    env = {"REQUESTED_VERSION": requested, "GITHUB_OUTPUT": str(output)}
    return run_step(step(DEPLOY, "version"), env, cwd)


def test_resolve_step_deploys_the_promoted_version_or_a_vetted_requested_one(
    tmp_path: Path, tiny_version_dir: Path
) -> None:
    version = tiny_version_dir.name
    cwd = workspace(tmp_path, tiny_version_dir, PASSING)

    nothing_promoted = run_resolve_step(cwd, "", tmp_path / "out0")
    assert nothing_promoted.returncode == 1
    assert "no version is promoted yet" in nothing_promoted.stderr

    assert promote(cwd / MODELS_PREFIX) == version  # what `make promote` runs (default: LATEST)
    assert (cwd / MODELS_PREFIX / PROMOTED_POINTER).read_text() == version + "\n"
    # The manifest's sha256 as committed, which the deploy pins the function to.
    pinned = hashlib.sha256((cwd / MODELS_PREFIX / version / MANIFEST_FILE).read_bytes()).hexdigest()
    expected = {"MODEL_VERSION": version, "MODEL_MANIFEST_SHA256": pinned}
    declared = run_resolve_step(cwd, "", tmp_path / "out1")
    assert declared.returncode == 0, declared.stderr
    assert github_outputs(tmp_path / "out1") == expected

    requested = run_resolve_step(cwd, version, tmp_path / "out2")
    assert requested.returncode == 0, requested.stderr
    assert github_outputs(tmp_path / "out2") == expected

    for bad, problem in [("v000000000000", "not found"), ("../models", "is not a version name")]:
        result = run_resolve_step(cwd, bad, tmp_path / "out-bad")
        assert result.returncode == 1 and problem in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert github_outputs(tmp_path / "out-bad") == {}


def test_promotion_refuses_a_version_below_the_gate_or_with_damaged_files(
    tmp_path: Path, tiny_version_dir: Path
) -> None:
    models = workspace(tmp_path / "low", tiny_version_dir, MISSES_AUC) / MODELS_PREFIX
    with pytest.raises(PromotionError, match="misses the quality gate: test roc_auc"):
        promote(models)
    assert not (models / PROMOTED_POINTER).exists()

    models = workspace(tmp_path / "damaged", tiny_version_dir, PASSING) / MODELS_PREFIX
    (models / tiny_version_dir.name / PREP_FILE).write_bytes(b"not the preprocessor")
    with pytest.raises(PromotionError, match=PREP_FILE):
        promote(models, tiny_version_dir.name)
    assert not (models / PROMOTED_POINTER).exists()


def test_promotion_refuses_a_version_the_function_cannot_serve(tmp_path: Path, tiny_version_dir: Path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import MinMaxScaler

    models = workspace(tmp_path, tiny_version_dir, PASSING) / MODELS_PREFIX
    folder = models / tiny_version_dir.name
    rows = np.random.default_rng(0).normal(size=(50, len(FEATURE_NAMES)))
    prep = io.BytesIO()
    joblib.dump(ColumnTransformer([("all", MinMaxScaler(), list(range(len(FEATURE_NAMES))))]).fit(rows), prep)
    (folder / PREP_FILE).write_bytes(prep.getvalue())
    # A complete, intact version (its name the hash of its files): only servability is wrong.
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["files"][PREP_FILE] = {"sha256": sha256_hex(prep.getvalue()), "bytes": len(prep.getvalue())}
    hashes = {name: entry["sha256"] for name, entry in manifest["files"].items()}
    manifest["version"] = version_from_hashes(hashes, manifest["serving"])
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    folder.rename(models / manifest["version"])
    with pytest.raises(PromotionError, match=r"cannot be served by this function: .*MinMaxScaler"):
        promote(models, manifest["version"])
    assert not (models / PROMOTED_POINTER).exists()


def test_smoke_step_checks_the_version_the_function_answers_with(
    tmp_path: Path, tiny_version_dir: Path, scoring_server: Server
) -> None:
    env = {"URL": scoring_server.url + "/", "ID_TOKEN": "token-ignored-locally"}
    passed = run_step(step(DEPLOY, "smoke"), env | {"MODEL_VERSION": tiny_version_dir.name}, ROOT)
    assert passed.returncode == 0, passed.stderr
    assert f"smoke test passed: model {tiny_version_dir.name} scored the sample record p=0." in passed.stdout

    wrong = run_step(step(DEPLOY, "smoke"), env | {"MODEL_VERSION": "v000000000000"}, ROOT)
    assert wrong.returncode == 1
    assert f"the function serves model version {tiny_version_dir.name!r}, expected 'v000000000000'" in wrong.stderr


@pytest.mark.parametrize("previous", [*RETAINED_VERSIONS, "v0123456789abcdef0123456789abcdef", ""])
def test_rollback_step_proposes_only_versions_main_can_serve_and_the_revision_that_served(
    tmp_path: Path, previous: str
) -> None:
    env = {
        "PREVIOUS_VERSION": previous,
        "PREVIOUS_REVISION": "default-risk-predict-00007-abc",
        "FUNCTION_NAME": "default-risk-predict",
        "PROJECT_ID": "acme-risk",
        "REGION": "europe-west1",
        "MODEL_VERSION": PROMOTED_VERSION,
        "DEPLOY_SHA": "0" * 40,
        "GITHUB_REPOSITORY": "acme/default-risk",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    result = run_step(step(DEPLOY, "rollback"), env, ROOT)
    assert result.returncode == 0, result.stderr
    assert "model_version" in DEPLOY["on"]["workflow_dispatch"]["inputs"]
    dispatch = f"gh workflow run {DEPLOY_WORKFLOW.name} --repo acme/default-risk --ref main -f model_version="
    proposed = [line.split("model_version=")[1] for line in result.stdout.splitlines() if dispatch in line]
    if previous in RETAINED_VERSIONS:
        assert proposed == [previous]
    else:  # every version main keeps besides the promoted one is servable, and proposed instead
        assert proposed == RETAINED_VERSIONS and RETAINED_VERSIONS
        assert f"({previous or 'unknown'}) is not one main's code can serve" in result.stdout
    assert "--to-revisions=default-risk-predict-00007-abc=100" in result.stdout
    assert (tmp_path / "summary.md").read_text() == result.stdout

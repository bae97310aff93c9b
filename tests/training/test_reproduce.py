"""Lineage and `make reproduce`: a version names what made it, and training it again gives the same bits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from default_risk.contract.artifacts import MANIFEST_FILE, MODELS_PREFIX
from training.lineage import ROOT, config_as_dict, config_from_dict, git
from training.reproduce import CANNOT, DIFFERENT, IDENTICAL, differing_figures, main, reproduce


def test_the_manifest_names_the_commit_the_command_and_the_whole_configuration(tiny_run) -> None:
    config, result = tiny_run
    lineage = result.manifest["lineage"]
    assert lineage["code"]["commit"] == git("rev-parse", "HEAD")
    assert lineage["code"]["clean"] is (lineage["code"]["changed_files"] == [])
    assert config_from_dict(lineage["config"]) == config
    assert lineage["determinism"]["TF_NUM_INTRAOP_THREADS"] == "2" and lineage["machine"]["cores"] >= 1
    assert result.manifest["data"]["sha256"] and result.manifest["libraries"]["tensorflow-cpu"]


def test_a_configuration_survives_the_manifest(tiny_run) -> None:
    config, _ = tiny_run
    assert config_from_dict(json.loads(json.dumps(config_as_dict(config)))) == config


def copy_version(result, tmp_path: Path) -> Path:
    models = tmp_path / MODELS_PREFIX
    shutil.copytree(result.version_dir, models / result.version)
    return models


def test_training_again_from_the_lineage_is_byte_identical(tiny_run, tmp_path, capsys) -> None:
    _, result = tiny_run
    models = copy_version(result, tmp_path)
    assert reproduce(models, result.version, tmp_path / "scratch", lambda line: None) == IDENTICAL
    assert f"{result.version}: rebuilt byte-identical" in capsys.readouterr().out


def test_a_rebuild_that_differs_says_which_files_figures_and_how_far_the_scores_moved(tiny_run, tmp_path, capsys):
    _, result = tiny_run
    models = copy_version(result, tmp_path)
    manifest_path = models / result.version / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["lineage"]["config"]["seed"] += 1  # as if the recorded configuration were not what trained it
    manifest_path.write_text(json.dumps(manifest))
    assert reproduce(models, result.version, tmp_path / "scratch", lambda line: None) == DIFFERENT
    out = capsys.readouterr().out
    assert f"{result.version}: NOT rebuilt byte-identical" in out
    assert "file model.tflite: sha256" in out and "figure metrics.test.roc_auc:" in out
    delta = float(out.rsplit("test rows: ", 1)[1].split()[0])
    assert 0 < delta <= 1


def test_figures_are_compared_leaf_by_leaf_and_run_names_are_not() -> None:
    recorded = {"metrics": {"test": {"roc_auc": 0.78, "brier": 0.13}}, "created_at": "a", "mlflow": {"run_id": "1"}}
    rebuilt = {"metrics": {"test": {"roc_auc": 0.78, "brier": 0.14}}, "created_at": "b", "mlflow": {"run_id": "2"}}
    assert differing_figures(recorded, rebuilt) == ["metrics.test.brier: 0.13 -> 0.14"]


def test_a_version_without_lineage_cannot_be_reproduced(tiny_version_dir, capsys) -> None:
    assert main([tiny_version_dir.name, "--models-dir", str(tiny_version_dir.parent)]) == CANNOT
    assert "records no lineage" in capsys.readouterr().err


def test_the_promoted_version_records_a_clean_commit_of_this_repository() -> None:
    models = ROOT / MODELS_PREFIX
    manifest = json.loads((models / (models / "PROMOTED").read_text().strip() / MANIFEST_FILE).read_text())
    code = manifest["lineage"]["code"]
    assert code["clean"] and code["changed_files"] == []
    assert git("cat-file", "-t", code["commit"]) == "commit", "the promoted version names a commit this repo lacks"

"""The exported version: manifest hashes match the files, LiteRT equals Keras, and a model failing
parity, or a preprocessor the function cannot apply, is refused without writing anything."""

from __future__ import annotations

import io
import json

import joblib
import numpy as np
import pytest

from default_risk.artifacts import (
    LATEST_POINTER,
    MANIFEST_FILE,
    MODEL_FILE,
    PREP_FILE,
    VERSION_FILES,
    IntegrityError,
    parse_manifest,
    sha256_hex,
)
from default_risk.contract import FEATURE_NAMES
from default_risk.preprocessing import load_preprocessor
from default_risk.scorer import Scorer
from training import export
from training.export import ExportError, export_version


def test_manifest_hashes_match_the_files(tiny_run):
    config, result = tiny_run
    manifest = parse_manifest((result.version_dir / MANIFEST_FILE).read_bytes())
    assert manifest["version"] == result.version == result.version_dir.name
    for name in VERSION_FILES:
        data = (result.version_dir / name).read_bytes()
        assert manifest["files"][name] == {"sha256": sha256_hex(data), "bytes": len(data)}
    assert (config.models_dir / LATEST_POINTER).read_text().strip() == result.version


def test_manifest_records_the_run(tiny_run, shared_data):
    _, result = tiny_run
    manifest = result.manifest
    assert manifest["data"]["sha256"] == sha256_hex(shared_data.read_bytes())
    assert manifest["mlflow"]["run_id"] == result.run_id
    assert manifest["split"]["seed"] == 42 and manifest["split"]["test_size"] == 0.2
    assert set(manifest["metrics"]["test"]) == {"roc_auc", "pr_auc", "brier", "log_loss", "ks", "ece"}
    assert set(manifest["metrics"]["baselines_test"]) == {"logistic_regression", "hist_gradient_boosting"}
    assert 0 < manifest["threshold"]["value"] < 1
    assert sum(manifest["threshold"]["test"]["confusion_matrix"].values()) == manifest["split"]["rows"]["test"]


def test_litert_equals_keras_on_the_exported_version(tiny_run):
    import keras

    _, result = tiny_run
    preprocessor = joblib.load(result.version_dir / PREP_FILE)
    rows = np.random.default_rng(0).normal(size=(200, 23)) * 1000 + 1000  # plausible-ish raw matrices
    keras_model = keras.saving.load_model(result.version_dir / "best_tf_model.keras")
    expected = keras_model.predict(preprocessor.transform(rows).astype(np.float32), verbose=0).reshape(-1)
    served_preprocessor = load_preprocessor((result.version_dir / PREP_FILE).read_bytes())
    served = Scorer((result.version_dir / MODEL_FILE).read_bytes(), served_preprocessor).probabilities(rows)
    assert np.max(np.abs(served - expected)) <= export.PARITY_TOLERANCE
    assert result.manifest["litert_keras_max_difference"] <= export.PARITY_TOLERANCE


def _tiny_model(seed: int, input_dim: int):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_dim,))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dense(4)(inputs)))


def test_export_refuses_a_model_that_fails_parity(tmp_path, tiny_run, monkeypatch):
    _, result = tiny_run
    preprocessor = joblib.load(io.BytesIO((result.version_dir / PREP_FILE).read_bytes()))
    rows = np.random.default_rng(1).normal(size=(50, 23)) * 1000 + 1000
    width = preprocessor.transform(rows[:1]).shape[1]
    models_dir = tmp_path / "models"
    served, other = _tiny_model(1, width), _tiny_model(2, width)
    real_convert = export.to_tflite
    monkeypatch.setattr(export, "to_tflite", lambda model: real_convert(other))  # a converter that gets it wrong
    with pytest.raises(ExportError, match="LiteRT differs from Keras"):
        export_version(served, preprocessor, rows, models_dir, manifest_fields={})
    assert not models_dir.exists() or not any(models_dir.iterdir())

    monkeypatch.setattr(export, "to_tflite", real_convert)
    written = export_version(served, preprocessor, rows, models_dir, manifest_fields={"note": "parity holds"}).path
    assert json.loads((written / MANIFEST_FILE).read_text())["note"] == "parity holds"
    assert (models_dir / LATEST_POINTER).read_text().strip() == written.name


def test_export_refuses_a_preprocessor_the_function_cannot_apply(tmp_path, tiny_run):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import MinMaxScaler

    rows = np.random.default_rng(2).normal(size=(50, 23)) * 1000 + 1000
    preprocessor = ColumnTransformer([("all", MinMaxScaler(), list(range(len(FEATURE_NAMES))))]).fit(rows)
    models_dir = tmp_path / "models"
    with pytest.raises(ExportError, match=r"the function cannot apply this preprocessor: .*MinMaxScaler"):
        export_version(_tiny_model(3, len(FEATURE_NAMES)), preprocessor, rows, models_dir, manifest_fields={})
    assert not models_dir.exists()


def test_a_manifest_for_another_feature_contract_is_refused(tiny_run):
    _, result = tiny_run
    manifest = json.loads((result.version_dir / MANIFEST_FILE).read_text())
    assert parse_manifest(json.dumps(manifest).encode())["feature_order"] == manifest["feature_order"]
    manifest["feature_order"] = list(reversed(manifest["feature_order"]))
    with pytest.raises(IntegrityError, match="ship the model and the contract together"):
        parse_manifest(json.dumps(manifest).encode())


def _snapshot(folder) -> dict[str, tuple[bytes, int]]:
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(folder.iterdir())}


def _scaled_rows(seed: int):
    """(rows, a StandardScaler ColumnTransformer fitted on them)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    rows = np.random.default_rng(seed).normal(size=(60, 23)) * 1000 + 1000
    return rows, ColumnTransformer([("all", StandardScaler(), list(range(len(FEATURE_NAMES))))]).fit(rows)


def test_exporting_an_existing_version_again_keeps_its_folder_untouched(tmp_path):
    """Retraining gives the same served files (training is deterministic): the committed folder is not rewritten."""
    rows, preprocessor = _scaled_rows(4)
    models_dir = tmp_path / "models"
    model = _tiny_model(5, len(FEATURE_NAMES))
    first = export_version(model, preprocessor, rows, models_dir, manifest_fields={})
    assert first.created
    before = _snapshot(first.path)
    (models_dir / LATEST_POINTER).unlink()  # as on a fresh clone: the version is committed, LATEST is not

    again = export_version(model, preprocessor, rows, models_dir, manifest_fields={"run": "another"})
    assert again.path == first.path and not again.created
    assert _snapshot(first.path) == before, "an existing version folder was rewritten"
    assert (models_dir / LATEST_POINTER).read_text().strip() == first.path.name


def test_exporting_over_a_version_folder_whose_served_files_differ_is_refused(tmp_path):
    rows, preprocessor = _scaled_rows(6)
    models_dir = tmp_path / "models"
    model = _tiny_model(7, len(FEATURE_NAMES))
    first = export_version(model, preprocessor, rows, models_dir, manifest_fields={})
    (first.path / PREP_FILE).write_bytes(b"damaged")
    before = _snapshot(first.path)
    with pytest.raises(ExportError, match=rf"version {first.path.name} already exists .* \({PREP_FILE}\); a version"):
        export_version(model, preprocessor, rows, models_dir, manifest_fields={})
    assert _snapshot(first.path) == before

"""The exported version: manifest hashes and name cover the served files and the serving section, LiteRT equals
Keras, no protected field moves a score, a model failing parity or a preprocessor the function cannot apply is
refused without writing anything, and a version is never rewritten."""

from __future__ import annotations

import io
import json

import joblib
import numpy as np
import pytest

from default_risk.contract.artifacts import (
    LATEST_POINTER,
    MANIFEST_FILE,
    MODEL_FILE,
    PREP_FILE,
    SERVING_KEY,
    VERSION_FILES,
    VERSION_HEX_DIGITS,
    IntegrityError,
    canonical_json,
    parse_manifest,
    sha256_hex,
    version_from_hashes,
)
from default_risk.contract.fields import FEATURE_NAMES, PROTECTED_FIELDS
from default_risk.contract.model_inputs import FEATURE_SETS, model_inputs
from default_risk.model.version import read_local_version
from tests.support.tiny_model import load_rows
from training import export
from training.export import ExportError, check_protected_invariance, prove, serving_section, write_version
from training.features import build_preprocessor

FEATURE_SET = "fields"


def test_manifest_hashes_and_version_name_cover_the_served_files_and_section(tiny_run):
    config, result = tiny_run
    manifest = parse_manifest((result.version_dir / MANIFEST_FILE).read_bytes())
    assert manifest["version"] == result.version == result.version_dir.name
    assert len(result.version) == 1 + VERSION_HEX_DIGITS  # 128 bits
    for name in VERSION_FILES:
        data = (result.version_dir / name).read_bytes()
        assert manifest["files"][name] == {"sha256": sha256_hex(data), "bytes": len(data)}
    hashes = {name: manifest["files"][name]["sha256"] for name in (MODEL_FILE, PREP_FILE)}
    assert version_from_hashes(hashes, manifest[SERVING_KEY]) == result.version
    changed = json.loads(canonical_json(manifest[SERVING_KEY])) | {"bands": {**manifest[SERVING_KEY]["bands"]}}
    changed["bands"]["edges"] = [edge + 1e-9 for edge in changed["bands"]["edges"]]
    assert version_from_hashes(hashes, changed) != result.version, "the name must cover the serving section"
    assert (config.models_dir / LATEST_POINTER).read_text().strip() == result.version


def test_manifest_records_the_run_the_fields_and_the_fairness_report(tiny_run, shared_data):
    _, result = tiny_run
    manifest = result.manifest
    assert manifest["data"]["sha256"] == sha256_hex(shared_data.read_bytes())
    assert manifest["mlflow"]["run_id"] == result.run_id
    assert manifest["split"]["seed"] == 42 and manifest["split"]["test_size"] == 0.2
    assert set(manifest["metrics"]["test"]) == {"roc_auc", "pr_auc", "brier", "log_loss", "ks", "ece"}
    assert set(manifest["metrics"]["baselines_test"]) == {"logistic_regression", "hist_gradient_boosting"}
    assert 0 < manifest["threshold"]["value"] < 1
    assert sum(manifest["threshold"]["test"]["confusion_matrix"].values()) == manifest["split"]["rows"]["test"]
    assert manifest["protected_fields"] == list(PROTECTED_FIELDS)
    assert not set(manifest["model_fields"]) & set(PROTECTED_FIELDS)
    assert not set(manifest[SERVING_KEY]["model_inputs"]) & set(PROTECTED_FIELDS)
    attributes = [entry["attribute"] for entry in manifest["fairness"]["attributes"]]
    assert attributes == ["SEX", "MARRIAGE", "EDUCATION", "age band"]
    rows = sum(group["rows"] for group in manifest["fairness"]["attributes"][0]["groups"])
    assert rows == manifest["split"]["rows"]["test"]
    assert set(manifest["ablations"]["variants"]) == {"with SEX and MARRIAGE", "with AGE", "with SEX, MARRIAGE and AGE"}


def test_the_exported_version_is_served_as_keras_scores(tiny_run):
    import keras

    _, result = tiny_run
    served = read_local_version(result.version_dir)
    feature_set = result.manifest[SERVING_KEY]["feature_set"]
    preprocessor = joblib.load(result.version_dir / PREP_FILE)
    rows = load_rows(200, seed=9)[0]
    keras_model = keras.saving.load_model(result.version_dir / "best_tf_model.keras")
    expected = keras_model.predict(preprocessor.transform(model_inputs(rows, feature_set)), verbose=0).reshape(-1)
    assert np.max(np.abs(served.scorer.probabilities(rows) - expected)) <= export.PARITY_TOLERANCE
    assert result.manifest["litert_keras_max_difference"] <= export.PARITY_TOLERANCE


def _tiny_model(seed: int, input_dim: int):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_dim,))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="probability")(hidden))


def _fitted(seed: int, kind: str = "standard"):
    """(raw rows, a preprocessor fitted on their model inputs, the network's input width)."""
    rows = load_rows(300, seed=seed)[0]
    preprocessor = build_preprocessor(kind, FEATURE_SET).fit(model_inputs(rows, FEATURE_SET))
    return rows, preprocessor, preprocessor.transform(model_inputs(rows[:1], FEATURE_SET)).shape[1]


def test_export_refuses_a_model_that_fails_parity(tmp_path, monkeypatch):
    rows, preprocessor, width = _fitted(1)
    served, other = _tiny_model(1, width), _tiny_model(2, width)
    real_convert = export.to_tflite
    monkeypatch.setattr(export, "to_tflite", lambda model: real_convert(other))  # a converter that gets it wrong
    with pytest.raises(ExportError, match="LiteRT differs from Keras"):
        prove(served, preprocessor, FEATURE_SET, rows)
    monkeypatch.setattr(export, "to_tflite", real_convert)
    assert prove(served, preprocessor, FEATURE_SET, rows).max_difference <= export.PARITY_TOLERANCE


def test_export_refuses_a_preprocessor_the_function_cannot_apply():
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import MinMaxScaler

    rows = load_rows(100, seed=2)[0]
    width = len(FEATURE_SETS[FEATURE_SET])
    preprocessor = ColumnTransformer([("all", MinMaxScaler(), list(range(width)))]).fit(model_inputs(rows, FEATURE_SET))
    with pytest.raises(ExportError, match=r"the function cannot apply this preprocessor: .*MinMaxScaler"):
        prove(_tiny_model(3, width), preprocessor, FEATURE_SET, rows)


class _LeakyScorer:
    """A scorer that reads a protected field: what the invariance check exists to catch."""

    def __init__(self, field: str) -> None:
        self.column = FEATURE_NAMES.index(field)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-np.nan_to_num(rows[:, self.column]) / 100))


@pytest.mark.parametrize("field", PROTECTED_FIELDS)
def test_a_score_that_moves_with_a_protected_field_is_refused(field):
    rows = load_rows(50, seed=4)[0]
    with pytest.raises(ExportError, match=rf"setting {field} = .* changes served scores"):
        check_protected_invariance(_LeakyScorer(field), rows)


def test_the_elderly_rule_is_checked_as_the_regulation_states_it():
    class OlderScoresHigher:
        def probabilities(self, rows: np.ndarray) -> np.ndarray:
            return np.where(rows[:, FEATURE_NAMES.index("AGE")] >= 70, 0.9, 0.1)

    rows = load_rows(20, seed=5)[0]
    with pytest.raises(ExportError):
        check_protected_invariance(OlderScoresHigher(), rows)


def _snapshot(folder) -> dict[str, tuple[bytes, int]]:
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(folder.iterdir())}


def _write(tmp_path, seed: int, fields: dict | None = None):
    rows, preprocessor, width = _fitted(seed)
    model = _tiny_model(seed, width)
    proven = prove(model, preprocessor, FEATURE_SET, rows)
    serving = serving_section(FEATURE_SET, fields or {"note": "bands, stability and explanation omitted"})
    return model, proven, serving


def test_exporting_an_existing_version_again_keeps_its_folder_untouched(tmp_path):
    """Retraining gives the same served files (training is deterministic): the committed folder is not rewritten."""
    model, proven, serving = _write(tmp_path, 5)
    models_dir = tmp_path / "models"
    first = write_version(models_dir, model, proven, serving, {})
    assert first.created
    before = _snapshot(first.path)
    (models_dir / LATEST_POINTER).unlink()  # as on a fresh clone: the version is committed, LATEST is not
    again = write_version(models_dir, model, proven, serving, {"run": "another"})
    assert again.path == first.path and not again.created
    assert _snapshot(first.path) == before, "an existing version folder was rewritten"
    assert (models_dir / LATEST_POINTER).read_text().strip() == first.path.name


def test_exporting_over_a_version_folder_whose_served_files_differ_is_refused(tmp_path):
    model, proven, serving = _write(tmp_path, 6)
    models_dir = tmp_path / "models"
    first = write_version(models_dir, model, proven, serving, {})
    (first.path / PREP_FILE).write_bytes(b"damaged")
    before = _snapshot(first.path)
    with pytest.raises(ExportError, match=rf"version {first.path.name} already exists .* \({PREP_FILE}\); a version"):
        write_version(models_dir, model, proven, serving, {})
    assert _snapshot(first.path) == before


def test_a_manifest_for_another_feature_contract_or_version_is_refused(tiny_run):
    _, result = tiny_run
    raw = (result.version_dir / MANIFEST_FILE).read_bytes()
    manifest = json.loads(raw)
    manifest[SERVING_KEY]["feature_order"] = list(reversed(manifest[SERVING_KEY]["feature_order"]))
    with pytest.raises(IntegrityError, match="its files and serving section give"):
        parse_manifest(json.dumps(manifest).encode())  # the name no longer matches
    hashes = {name: manifest["files"][name]["sha256"] for name in (MODEL_FILE, PREP_FILE)}
    manifest["version"] = version_from_hashes(hashes, manifest[SERVING_KEY])
    with pytest.raises(IntegrityError, match="ship the model and the contract together"):
        parse_manifest(json.dumps(manifest).encode())


def test_prep_joblib_bytes_are_what_joblib_loads(tiny_run):
    _, result = tiny_run
    restored = joblib.load(io.BytesIO((result.version_dir / PREP_FILE).read_bytes()))
    assert restored.n_features_in_ == len(result.manifest[SERVING_KEY]["model_inputs"])


def test_a_version_whose_features_this_code_computes_otherwise_is_refused(tiny_run, tmp_path):
    import shutil

    from default_risk.model.version import read_local_version

    _, result = tiny_run
    manifest = json.loads((result.version_dir / MANIFEST_FILE).read_text())
    sums = manifest[SERVING_KEY]["model_inputs_probe_sums"]
    manifest[SERVING_KEY]["model_inputs_probe_sums"] = [value * (1 + 1e-6) for value in sums]
    hashes = {name: manifest["files"][name]["sha256"] for name in (MODEL_FILE, PREP_FILE)}
    manifest["version"] = version_from_hashes(hashes, manifest[SERVING_KEY])
    folder = tmp_path / manifest["version"]
    shutil.copytree(result.version_dir, folder)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="trained on features this code computes otherwise"):
        read_local_version(folder)

"""Export a trained model as a version folder: Keras, LiteRT, preprocessor and manifest.

The export proves itself before it writes (``prove``): the function's own reader of ``prep.joblib``
(``preprocessing.load_preprocessor``, which applies it without scikit-learn) must reproduce scikit-learn's
``transform`` within ``PREPROCESSING_TOLERANCE`` on rows spanning the contract; LiteRT's probabilities
through the function's ``Scorer`` must equal Keras' within ``PARITY_TOLERANCE`` on the rows it is given; and
no protected field may move a served score, on any of those rows (``check_protected_invariance``: every
code, every age from 18 to 100 and 62+ against 61, the field absent). Then ``write_version`` writes the
folder once: a version that exists is kept as it is, never rewritten.
"""

from __future__ import annotations

import io
import json
import platform
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import joblib
import numpy as np

from default_risk.contract.artifacts import (
    KERAS_FILE,
    LATEST_POINTER,
    MANIFEST_FILE,
    MANIFEST_SCHEMA_VERSION,
    MODEL_FILE,
    PREP_FILE,
    SERVING_KEY,
    VERSION_FILES,
    sha256_hex,
    version_from_hashes,
)
from default_risk.contract.fields import (
    ELDERLY_AGE,
    FEATURE_NAMES,
    FEATURES_BY_NAME,
    MODEL_FIELDS,
    PROTECTED_FIELDS,
    TARGET,
    contract_as_dict,
    probe_rows,
)
from default_risk.contract.model_inputs import FEATURE_REVISION, FEATURE_SETS, model_inputs, probe_sums
from default_risk.model.preprocessing import UnsupportedPreprocessor, load_preprocessor
from default_risk.model.scorer import Scorer
from training.model import predict

PARITY_TOLERANCE = 1e-5
PREPROCESSING_TOLERANCE = 1e-9
KERAS_METADATA = "metadata.json"
KERAS_CONFIG = "config.json"
SHARED_OBJECT_ID = "shared_object_id"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip member can carry."""
LIBRARIES = ("tensorflow-cpu", "keras", "scikit-learn", "numpy", "ai-edge-litert", "joblib")


class ExportError(RuntimeError):
    """The model cannot be exported faithfully; nothing was written."""


@dataclass(frozen=True)
class Proven:
    """Served files whose reading by the function is proven equal to training's own model."""

    tflite_bytes: bytes
    prep_bytes: bytes
    scorer: Scorer
    """The function's scorer of these files."""
    max_difference: float
    parity_rows: int


@dataclass(frozen=True)
class ExportedVersion:
    path: Path
    created: bool
    """False when the version existed already with byte-identical served files and was kept untouched."""


def to_tflite(model) -> bytes:
    """Convert a Keras model with TensorFlow's own converter."""
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def served_preprocessor_of(preprocessor, prep_bytes: bytes, feature_set: str):
    """How the function will read ``prep_bytes`` (``preprocessor`` saved by joblib), once proven to
    transform like scikit-learn's own; ExportError if it cannot."""
    try:
        served = load_preprocessor(prep_bytes, len(FEATURE_SETS[feature_set]))
    except UnsupportedPreprocessor as error:
        raise ExportError(f"the function cannot apply this preprocessor: {error}; not exported") from error
    probe = model_inputs(probe_rows(), feature_set)
    difference = float(np.max(np.abs(served.transform(probe) - preprocessor.transform(probe))))
    if not difference <= PREPROCESSING_TOLERANCE:
        raise ExportError(
            f"the function's preprocessing differs from scikit-learn's by {difference:.2e} "
            f"> {PREPROCESSING_TOLERANCE:.0e}; not exported"
        )
    return served


def prove(model, preprocessor, feature_set: str, parity_features: np.ndarray) -> Proven:
    """``model.tflite`` and ``prep.joblib`` bytes, proven: the function's reading equals scikit-learn and Keras
    on ``parity_features`` (raw rows, ``FEATURE_NAMES`` order), and ignores every protected field."""
    tflite_bytes = to_tflite(model)
    prep_buffer = io.BytesIO()
    joblib.dump(preprocessor, prep_buffer)
    prep_bytes = prep_buffer.getvalue()
    scorer = Scorer(tflite_bytes, served_preprocessor_of(preprocessor, prep_bytes, feature_set), feature_set)
    keras_probabilities = predict(model, preprocessor.transform(model_inputs(parity_features, feature_set)))
    max_difference = float(np.max(np.abs(keras_probabilities - scorer.probabilities(parity_features))))
    if not max_difference <= PARITY_TOLERANCE:
        raise ExportError(f"LiteRT differs from Keras by {max_difference:.2e} > {PARITY_TOLERANCE:.0e}; not exported")
    check_protected_invariance(scorer, parity_features)
    return Proven(tflite_bytes, prep_bytes, scorer, max_difference, len(parity_features))


def protected_variants(rows: np.ndarray):
    """``(what, rows)`` pairs: ``rows`` with the protected fields changed in every way the contract allows."""
    for name in PROTECTED_FIELDS:
        column = FEATURE_NAMES.index(name)
        feature = FEATURES_BY_NAME[name]
        values = feature.codes or range(int(feature.minimum), int(feature.maximum) + 1)
        for value in (*values, np.nan):
            changed = rows.copy()
            changed[:, column] = value
            yield f"{name} = {value}", changed


def check_protected_invariance(scorer: Scorer, rows: np.ndarray) -> None:
    """ExportError unless every served score of ``rows`` is bit-identical whatever the protected fields say
    (each code, each age, absent); this includes Regulation B's elderly rule: no age from ``ELDERLY_AGE`` up
    scores higher than the same record at ``ELDERLY_AGE - 1``."""
    expected = scorer.probabilities(rows)
    for what, changed in protected_variants(rows):
        if not np.array_equal(scorer.probabilities(changed), expected):
            raise ExportError(f"setting {what} changes served scores: a protected field reaches the model")
    if "AGE" in PROTECTED_FIELDS:  # the elderly rule, stated as the regulation does, on top of invariance
        at_61 = rows.copy()
        at_61[:, FEATURE_NAMES.index("AGE")] = ELDERLY_AGE - 1
        baseline = scorer.probabilities(at_61)
        oldest = int(FEATURES_BY_NAME["AGE"].maximum)
        for age in range(ELDERLY_AGE, oldest + 1):
            at_61[:, FEATURE_NAMES.index("AGE")] = age
            if np.any(scorer.probabilities(at_61) > baseline):
                raise ExportError(f"an applicant aged {age} scores higher than at {ELDERLY_AGE - 1}; not exported")


def serving_section(feature_set: str, fields: dict) -> dict:
    """The manifest's ``serving`` section: what the function reads, all covered by the version's name."""
    return {
        "feature_order": list(FEATURE_NAMES),
        "contract": contract_as_dict(),
        "feature_set": feature_set,
        "feature_revision": FEATURE_REVISION,
        "model_inputs": list(FEATURE_SETS[feature_set]),
        "model_inputs_probe_sums": probe_sums(feature_set),
        **fields,
    }


def write_version(models_dir: Path, model, proven: Proven, serving: dict, manifest_fields: dict) -> ExportedVersion:
    """Write ``models_dir/<version>/`` and point ``models_dir/LATEST`` at it.

    A version is never rewritten: when its folder exists with the same served files and serving section it
    is kept as it is (its manifest still names the run that first wrote it); when they differ, ExportError.
    """
    served = {MODEL_FILE: proven.tflite_bytes, PREP_FILE: proven.prep_bytes}
    version = version_from_hashes({name: sha256_hex(data) for name, data in served.items()}, serving)
    target = models_dir / version
    if target.exists():
        _check_identical(target, served, serving)
        created = False
    else:
        extra = {"litert_keras_max_difference": proven.max_difference, "parity_rows": proven.parity_rows}
        _write(target, model, served, {SERVING_KEY: serving} | extra | manifest_fields)
        created = True
    (models_dir / LATEST_POINTER).write_text(version + "\n")
    return ExportedVersion(target, created)


def _check_identical(target: Path, served: dict[str, bytes], serving: dict) -> None:
    """An existing version folder may only be kept when its served files and serving section are these."""
    differing = [name for name, data in served.items() if not _holds(target / name, data)]
    manifest_path = target / MANIFEST_FILE
    if not manifest_path.is_file():
        differing.append(f"{MANIFEST_FILE} is missing")
    elif json.loads(manifest_path.read_text()).get(SERVING_KEY) != json.loads(json.dumps(serving)):
        differing.append(f"its {SERVING_KEY} section")
    if differing:
        raise ExportError(
            f"version {target.name} already exists at {target} and differs from this export "
            f"({', '.join(differing)}); a version is never rewritten: move that folder aside if it is damaged, "
            "then export again"
        )


def save_keras(model, path: Path) -> None:
    """``model.save(path)``, made canonical (``canonical_keras``): the same model always gives the same bytes."""
    model.save(path)
    path.write_bytes(canonical_keras(path.read_bytes()))


def canonical_keras(data: bytes) -> bytes:
    """A ``.keras`` file with what Keras stamps from the saving process made constant: each member's time in the
    zip, ``date_saved`` in ``metadata.json``, and in ``config.json`` the in-memory ids (``id()``) of shared objects,
    renumbered 1, 2, ... in the order they appear (Keras only matches them with each other when it loads)."""
    with zipfile.ZipFile(io.BytesIO(data)) as saved:
        members = [(info, saved.read(info)) for info in saved.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as canonical:
        for info, content in members:
            if info.filename == KERAS_METADATA:
                metadata = json.loads(content)
                metadata.pop("date_saved", None)
                content = json.dumps(metadata).encode()
            elif info.filename == KERAS_CONFIG:
                content = json.dumps(_renumbered(json.loads(content), {})).encode()
            member = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            member.compress_type, member.external_attr = info.compress_type, info.external_attr
            canonical.writestr(member, content)
    return buffer.getvalue()


def _renumbered(value: object, ids: dict[int, int]) -> object:
    if isinstance(value, dict):
        return {
            key: ids.setdefault(item, len(ids) + 1) if key == SHARED_OBJECT_ID else _renumbered(item, ids)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_renumbered(item, ids) for item in value]
    return value


def _holds(path: Path, data: bytes) -> bool:
    return path.is_file() and path.read_bytes() == data


def _write(target: Path, model, served: dict[str, bytes], manifest_fields: dict) -> None:
    """Write the version's files and manifest in a staging folder, then move it into place at once."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as staging_name:
        staging = Path(staging_name)
        save_keras(model, staging / KERAS_FILE)
        for name, data in served.items():
            (staging / name).write_bytes(data)
        files = {}
        for name in VERSION_FILES:
            data = (staging / name).read_bytes()
            files[name] = {"sha256": sha256_hex(data), "bytes": len(data)}
        manifest = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "version": target.name,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": files,
            "model_fields": list(MODEL_FIELDS),
            "protected_fields": list(PROTECTED_FIELDS),
            "target": TARGET,
            "libraries": {"python": platform.python_version()} | {lib: metadata.version(lib) for lib in LIBRARIES},
            **manifest_fields,
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        staging.rename(target)
        staging.mkdir()  # TemporaryDirectory cleans up the (now empty) staging path

"""Export a trained model as a version folder: Keras, LiteRT, preprocessor and manifest.

The export proves itself before it writes: the function's own reader of ``prep.joblib``
(``preprocessing.load_preprocessor``, which applies it without scikit-learn) must reproduce
scikit-learn's ``transform`` within ``PREPROCESSING_TOLERANCE`` on rows spanning the contract, and
LiteRT's probabilities through the function's ``Scorer`` must equal Keras' within ``PARITY_TOLERANCE``
on the rows it is given.
"""

from __future__ import annotations

import io
import json
import platform
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import joblib
import numpy as np

from default_risk.artifacts import (
    KERAS_FILE,
    LATEST_POINTER,
    MANIFEST_FILE,
    MANIFEST_SCHEMA_VERSION,
    MODEL_FILE,
    PREP_FILE,
    VERSION_FILES,
    sha256_hex,
    version_from_hashes,
)
from default_risk.contract import FEATURE_NAMES, TARGET, contract_as_dict
from default_risk.preprocessing import UnsupportedPreprocessor, load_preprocessor, probe_rows
from default_risk.scorer import Scorer
from training.model import predict

PARITY_TOLERANCE = 1e-5
PREPROCESSING_TOLERANCE = 1e-9
LIBRARIES = ("tensorflow-cpu", "keras", "scikit-learn", "numpy", "ai-edge-litert", "joblib")


class ExportError(RuntimeError):
    """The model cannot be exported faithfully; nothing was written."""


def to_tflite(model) -> bytes:
    """Convert a Keras model with TensorFlow's own converter."""
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def served_preprocessor_of(preprocessor, prep_bytes: bytes):
    """How the function will read ``prep_bytes`` (``preprocessor`` saved by joblib), once proven to
    transform like scikit-learn's own; ExportError if it cannot."""
    try:
        served = load_preprocessor(prep_bytes)
    except UnsupportedPreprocessor as error:
        raise ExportError(f"the function cannot apply this preprocessor: {error}; not exported") from error
    probe = probe_rows()
    difference = float(np.max(np.abs(served.transform(probe) - preprocessor.transform(probe))))
    if not difference <= PREPROCESSING_TOLERANCE:
        raise ExportError(
            f"the function's preprocessing differs from scikit-learn's by {difference:.2e} "
            f"> {PREPROCESSING_TOLERANCE:.0e}; not exported"
        )
    return served


@dataclass(frozen=True)
class ExportedVersion:
    path: Path
    created: bool
    """False when the version existed already with byte-identical served files and was kept untouched."""


def export_version(
    model,
    preprocessor,
    parity_features: np.ndarray,
    models_dir: Path,
    *,
    manifest_fields: dict,
) -> ExportedVersion:
    """Write ``models_dir/<version>/`` and point ``models_dir/LATEST`` at it.

    ``parity_features`` are raw feature rows (columns in ``FEATURE_NAMES`` order) on which LiteRT
    must match Keras; ``manifest_fields`` (metrics, data hash, run id, ...) go into the manifest.
    A version is never rewritten: when its folder exists with the same served files it is kept as it
    is (its manifest still names the run that first wrote it); when they differ, ExportError.
    """
    tflite_bytes, prep_bytes, max_difference = _proven_artifacts(model, preprocessor, parity_features)
    served = {MODEL_FILE: tflite_bytes, PREP_FILE: prep_bytes}
    version = version_from_hashes({name: sha256_hex(data) for name, data in served.items()})
    target = models_dir / version
    if target.exists():
        _check_identical(target, served)
        created = False
    else:
        extra = {"litert_keras_max_difference": max_difference, "parity_rows": len(parity_features)}
        _write_version(target, model, served, extra | manifest_fields)
        created = True
    (models_dir / LATEST_POINTER).write_text(version + "\n")
    return ExportedVersion(target, created)


def _proven_artifacts(model, preprocessor, parity_features: np.ndarray) -> tuple[bytes, bytes, float]:
    """``model.tflite`` and ``prep.joblib`` bytes, once the function's reading of them is proven equal to
    scikit-learn and Keras; and LiteRT's largest difference from Keras on ``parity_features``."""
    tflite_bytes = to_tflite(model)
    prep_buffer = io.BytesIO()
    joblib.dump(preprocessor, prep_buffer)
    prep_bytes = prep_buffer.getvalue()
    served_preprocessor = served_preprocessor_of(preprocessor, prep_bytes)
    keras_probabilities = predict(model, preprocessor.transform(parity_features))
    litert_probabilities = Scorer(tflite_bytes, served_preprocessor).probabilities(parity_features)
    max_difference = float(np.max(np.abs(keras_probabilities - litert_probabilities)))
    if not max_difference <= PARITY_TOLERANCE:
        raise ExportError(f"LiteRT differs from Keras by {max_difference:.2e} > {PARITY_TOLERANCE:.0e}; not exported")
    return tflite_bytes, prep_bytes, max_difference


def _check_identical(target: Path, served: dict[str, bytes]) -> None:
    """An existing version folder may only be kept when its served files are these bytes."""
    differing = [name for name, data in served.items() if not _holds(target / name, data)]
    if differing or not (target / MANIFEST_FILE).is_file():
        what = ", ".join(differing) if differing else f"{MANIFEST_FILE} is missing"
        raise ExportError(
            f"version {target.name} already exists at {target} and differs from this export ({what}); "
            "a version is never rewritten: move that folder aside if it is damaged, then export again"
        )


def _holds(path: Path, data: bytes) -> bool:
    return path.is_file() and path.read_bytes() == data


def _write_version(target: Path, model, served: dict[str, bytes], manifest_fields: dict) -> None:
    """Write the version's files and manifest in a staging folder, then move it into place at once."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as staging_name:
        staging = Path(staging_name)
        model.save(staging / KERAS_FILE)
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
            "features": contract_as_dict(),
            "feature_order": list(FEATURE_NAMES),
            "target": TARGET,
            "libraries": {"python": platform.python_version()} | {lib: metadata.version(lib) for lib in LIBRARIES},
            **manifest_fields,
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        staging.rename(target)
        staging.mkdir()  # TemporaryDirectory cleans up the (now empty) staging path

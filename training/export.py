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
import shutil
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import joblib
import numpy as np

from artifacts import (
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
from features import FEATURE_NAMES, TARGET, contract_as_dict
from preprocessing import UnsupportedPreprocessor, load_preprocessor, probe_rows
from scorer import Scorer

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


def export_version(
    model,
    preprocessor,
    parity_features: np.ndarray,
    models_dir: Path,
    *,
    manifest_fields: dict,
) -> Path:
    """Write ``models_dir/<version>/`` and point ``models_dir/LATEST`` at it; return the folder.

    ``parity_features`` are raw feature rows (columns in ``FEATURE_NAMES`` order) on which LiteRT
    must match Keras; ``manifest_fields`` (metrics, data hash, run id, ...) go into the manifest.
    """
    tflite_bytes = to_tflite(model)
    prep_buffer = io.BytesIO()
    joblib.dump(preprocessor, prep_buffer)
    prep_bytes = prep_buffer.getvalue()
    served_preprocessor = served_preprocessor_of(preprocessor, prep_bytes)

    keras_probabilities = model.predict(
        preprocessor.transform(parity_features).astype(np.float32), verbose=0, batch_size=4096
    ).reshape(-1)
    litert_probabilities = Scorer(tflite_bytes, served_preprocessor).probabilities(parity_features)
    max_difference = float(np.max(np.abs(keras_probabilities - litert_probabilities)))
    if not max_difference <= PARITY_TOLERANCE:
        raise ExportError(f"LiteRT differs from Keras by {max_difference:.2e} > {PARITY_TOLERANCE:.0e}; not exported")

    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir) as staging_name:
        staging = Path(staging_name)
        model.save(staging / KERAS_FILE)
        (staging / MODEL_FILE).write_bytes(tflite_bytes)
        (staging / PREP_FILE).write_bytes(prep_bytes)
        files = {}
        for name in VERSION_FILES:
            data = (staging / name).read_bytes()
            files[name] = {"sha256": sha256_hex(data), "bytes": len(data)}
        version = version_from_hashes({name: entry["sha256"] for name, entry in files.items()})
        manifest = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": files,
            "features": contract_as_dict(),
            "feature_order": list(FEATURE_NAMES),
            "target": TARGET,
            "litert_keras_max_difference": max_difference,
            "parity_rows": len(parity_features),
            "libraries": {"python": platform.python_version()} | {lib: metadata.version(lib) for lib in LIBRARIES},
            **manifest_fields,
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        target = models_dir / version
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        staging.mkdir()  # TemporaryDirectory cleans up the (now empty) staging path
    (models_dir / LATEST_POINTER).write_text(version + "\n")
    return target

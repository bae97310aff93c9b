"""A tiny but real model version for tests: a small Keras MLP exported exactly as training exports.

Trained for a few epochs on a few thousand rows of the shared data set, so fixtures that need a
servable version cost seconds, not minutes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from training.config import PREPROCESSINGS
from training.data import DATA_ENV, load_dataset
from training.features import build_preprocessor

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "default_of_credit_card_clients.csv"
PREPROCESSING = PREPROCESSINGS[1]
"""Any kind works; this one (one-hot codes, arcsinh amounts, scalers) exercises the most components."""


def load_rows(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` random rows of the shared data set: (features in FEATURE_NAMES order, 0/1 targets)."""
    features, targets = load_dataset(os.environ.get(DATA_ENV) or str(DEFAULT_DATA))
    picked = np.random.default_rng(seed).choice(len(features), size=rows, replace=False)
    return features.to_numpy(dtype=np.float64)[picked], targets.to_numpy(dtype=np.float32)[picked]


def train_tiny_version(models_dir: Path, rows: int = 3000, epochs: int = 3, seed: int = 0) -> Path:
    """Train and export a tiny version under ``models_dir``; return its folder."""
    import keras

    from training.export import export_version

    features, targets = load_rows(rows, seed)
    preprocessor = build_preprocessor(PREPROCESSING).fit(features)
    inputs = preprocessor.transform(features).astype(np.float32)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((inputs.shape[1],)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(inputs, targets, epochs=epochs, batch_size=256, verbose=0)
    return export_version(
        model, preprocessor, features[:500], models_dir, manifest_fields={"metrics": {}, "note": "tiny test model"}
    ).path

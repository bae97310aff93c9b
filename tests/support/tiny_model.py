"""A tiny but real model version for tests: a small Keras MLP exported exactly as training exports.

Trained for a few epochs on a few thousand rows of the shared data set, so fixtures that need a
servable version cost seconds, not minutes. Its manifest has every served section (bands, stability,
explanation) computed as training computes them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from training.data import DATA_ENV, load_dataset

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "default_of_credit_card_clients.csv"
PREPROCESSING = "standard-onehot-arcsinh"
"""It exercises the most components (one-hot codes, arcsinh amounts, scalers)."""
FEATURE_SET = "fields+derived"


def load_rows(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` random rows of the shared data set: (features in FEATURE_NAMES order, 0/1 targets)."""
    features, targets = load_dataset(os.environ.get(DATA_ENV) or str(DEFAULT_DATA))
    picked = np.random.default_rng(seed).choice(len(features), size=rows, replace=False)
    return features.to_numpy(dtype=np.float64)[picked], targets.to_numpy(dtype=np.float32)[picked]


def train_tiny_version(models_dir: Path, rows: int = 3000, epochs: int = 3, seed: int = 0) -> Path:
    """Train and export a tiny version under ``models_dir``; return its folder."""
    import keras

    from default_risk.contract.model_inputs import model_inputs
    from training.export import prove, serving_section, write_version
    from training.features import build_preprocessor
    from training.references import serving_fields
    from training.split import Split

    features, targets = load_rows(rows, seed)
    third = rows // 3
    split = Split(
        features[third:], targets[third:], features[:third], targets[:third], features[:third], targets[:third], None
    )
    inputs = model_inputs(split.x_train, FEATURE_SET)
    preprocessor = build_preprocessor(PREPROCESSING, FEATURE_SET).fit(inputs)
    network_input = preprocessor.transform(inputs).astype(np.float32)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((network_input.shape[1],)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="probability"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(network_input, split.y_train, epochs=epochs, batch_size=256, verbose=0)
    proven = prove(model, preprocessor, FEATURE_SET, features[:500])
    serving = serving_section(FEATURE_SET, serving_fields(proven.scorer, split))
    return write_version(models_dir, model, proven, serving, {"metrics": {}, "note": "tiny test model"}).path

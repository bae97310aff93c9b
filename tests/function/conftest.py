"""Fixtures of the function's tests: the OpenAPI document and the Keras model's own probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from default_risk.contract.artifacts import KERAS_FILE, PREP_FILE
from default_risk.contract.model_inputs import model_inputs
from default_risk.protocols.http import ROUTE_METHODS
from default_risk.protocols.openapi import document
from tests.support.tiny_model import FEATURE_SET, load_rows


@pytest.fixture(scope="session")
def openapi_document() -> dict:
    return document(ROUTE_METHODS)


@pytest.fixture(scope="session")
def keras_reference(tiny_version_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(rows, probabilities): 200 real rows and what the training code's Keras model says for them."""
    import joblib
    import keras

    rows, _ = load_rows(200, seed=7)
    model = keras.models.load_model(tiny_version_dir / KERAS_FILE)
    preprocessor = joblib.load(tiny_version_dir / PREP_FILE)
    inputs = model_inputs(rows, FEATURE_SET)
    probabilities = model.predict(preprocessor.transform(inputs).astype(np.float32), verbose=0).reshape(-1)
    return rows, probabilities.astype(np.float64)

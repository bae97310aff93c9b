"""The promoted version, the one ``models/PROMOTED`` names and main deploys, and its own test set: the model
behaviour tests' fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from default_risk.contract.artifacts import MODELS_PREFIX, declared_version
from default_risk.model.version import ServedVersion, read_local_version
from tests.support.local_cloud import ROOT
from training.data import load_dataset
from training.split import split_dataset

MODELS_DIR = ROOT / MODELS_PREFIX


@pytest.fixture(scope="session")
def promoted() -> ServedVersion:
    return read_local_version(MODELS_DIR / declared_version(MODELS_DIR))


@pytest.fixture(scope="session")
def test_rows(promoted, shared_data) -> np.ndarray:
    """The promoted version's own test set, split as its manifest records."""
    split = promoted.manifest["split"]
    features, target = load_dataset(str(shared_data))
    rows = split_dataset(
        features, target, seed=split["seed"], test_size=split["test_size"], val_size=split["val_size_of_train"]
    )
    assert len(rows.x_test) == split["rows"]["test"]
    return rows.x_test

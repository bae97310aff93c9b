"""Shared fixtures of the training tests: the real data and one tiny training run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.local_cloud import ROOT
from training.config import PREPROCESSINGS, TrainConfig

SHARED_DATA = Path(os.environ.get("UCI_CREDIT_DATA") or ROOT.parent / "shared/data/default_of_credit_card_clients.csv")

TINY = {
    "sample": 2000,
    "preprocessings": PREPROCESSINGS,
    "sizes": ((8,),),
    "max_epochs": 2,
    "patience": 1,
    "ensemble_size": 2,
}
"""A training run small enough for the test suite: two candidates, two members, two epochs."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert SHARED_DATA.is_file(), f"the shared UCI data is expected at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, shared_data):
    """One tiny end-to-end training run in a temporary folder (its own MLflow database and models)."""
    from training.train import run_training

    work = tmp_path_factory.mktemp("tiny_run")
    config = TrainConfig(
        data=str(shared_data),
        models_dir=work / "models",
        reports_dir=work / "reports",
        tracking_uri=f"sqlite:///{work / 'mlflow.db'}",
        artifact_root=work / "mlruns",
        **TINY,
    )
    return config, run_training(config, log=lambda line: None)

"""Shared fixtures of the training tests: the real data and one tiny training run."""

from __future__ import annotations

import pytest

from default_risk.contract.model_inputs import FEATURE_SETS
from training.config import PREPROCESSINGS, TARGETS, TrainConfig

TINY = {
    "sample": 2000,
    "preprocessings": PREPROCESSINGS,
    "feature_sets": tuple(FEATURE_SETS),
    "targets": TARGETS,
    "sizes": ((8,),),
    "max_epochs": 2,
    "patience": 1,
    "ensemble_size": 2,
}
"""A training run small enough for the test suite: two candidates, two members, two epochs."""


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

"""MLflow helpers: where runs are tracked and how a run is opened.

Tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///mlflow.db`` (in the working
directory); a new experiment keeps its artifacts under ``mlruns/``. Browse with ``make mlflow-ui``.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def tracking_uri(explicit: str | None = None) -> str:
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def metric_name(text: str) -> str:
    """``text`` with every character MLflow refuses in a metric name (``+``, ``'``, ...) made ``_``."""
    return "".join(c if c.isalnum() or c in "._-/: " else "_" for c in text)


def start_run(experiment: str, uri: str, artifact_root: Path):
    """Open a run in ``experiment`` (created with artifacts under ``artifact_root`` if new); a context manager."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is not None:
        experiment_id = existing.experiment_id
    else:
        experiment_id = mlflow.create_experiment(experiment, artifact_location=artifact_root.resolve().as_uri())
    return mlflow.start_run(experiment_id=experiment_id)

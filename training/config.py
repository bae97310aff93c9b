"""Training settings: the defaults `make train` uses, overridable from the CLI (tests use tiny ones)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from default_risk.artifacts import MODELS_PREFIX

PREPROCESSINGS: tuple[str, ...] = ("standard", "standard-onehot-arcsinh")
"""The preprocessings model selection can choose among (built by ``training.features.build_preprocessor``).

``standard``: every column standardised (codes as numbers). ``standard-onehot-arcsinh``: every
column standardised as in ``standard``, plus the codes one-hot encoded over the contract's codes,
plus the amounts through arcsinh then standardised (the network sees the linear, the categorical
and the compressed view)."""


@dataclass(frozen=True)
class TrainConfig:
    data: str | None = None
    """Path or URL of the data; None: ``$UCI_CREDIT_DATA`` or UCI's zip."""
    sample: int | None = None
    """Train on a stratified sample of this many rows (tests); None: all rows."""
    seed: int = 42
    test_size: float = 0.2
    val_size: float = 0.2
    """Share of the training part held out for validation."""
    preprocessings: tuple[str, ...] = PREPROCESSINGS
    """Candidate preprocessings, from ``PREPROCESSINGS``."""
    sizes: tuple[tuple[int, ...], ...] = ((64,), (128, 64))
    """Hidden layer widths of the candidate MLPs."""
    dropout: float = 0.5
    l2: float = 1e-3
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 1024
    max_epochs: int = 100
    patience: int = 10
    ensemble_size: int = 1
    """MLPs of the chosen configuration (different seeds) averaged inside the served model."""
    models_dir: Path = Path(MODELS_PREFIX)
    reports_dir: Path = Path("reports")
    experiment: str = "bank-default"
    tracking_uri: str | None = None
    """None: ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``."""
    artifact_root: Path = Path("mlruns")
    """Where a newly created MLflow experiment stores its artifacts."""

    def as_params(self) -> dict[str, str]:
        """Flat parameters for MLflow."""
        params = {k: v for k, v in asdict(self).items() if k != "tracking_uri"}
        params["sizes"] = ";".join(",".join(str(units) for units in size) for size in self.sizes)
        params["preprocessings"] = ",".join(self.preprocessings)
        return {k: str(v) for k, v in params.items()}

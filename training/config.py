"""Training settings: the defaults `make train` uses, overridable from the CLI (tests use tiny ones)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


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
    preprocessings: tuple[str, ...] = ("standard", "standard-onehot-arcsinh")
    """Candidate preprocessings (see ``training.features.PREPROCESSINGS``)."""
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
    models_dir: Path = Path("models")
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

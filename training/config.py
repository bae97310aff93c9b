"""Training settings and the quality gate, read once here: the defaults `make train` uses (overridable from the CLI;
tests use tiny ones), and the figures a version must reach to be promoted (``training.release.gate`` applies them,
``training.fairness`` and the model card report against them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from default_risk.contract.artifacts import MODELS_PREFIX

QUALITY_GATE: dict[str, tuple[str, float]] = {
    "roc_auc": (">=", 0.775),
    "brier": ("<=", 0.137),
    "ece": ("<=", 0.02),
}
"""Metric name in ``manifest["metrics"]["test"]`` -> (comparison, threshold)."""
BASELINE = "hist_gradient_boosting"
BASELINE_MARGIN = 0.002
"""The served model's validation ROC-AUC may be at most this much below ``BASELINE``'s on the same model inputs
(validation is the set the choice is made on): a network that loses to the trees it is compared with is refused."""
MIN_GROUP_ROWS = 100
"""Protected groups with fewer test rows than this are reported but not gated (too few to judge)."""
AIR_LIMIT = 0.8
"""The four-fifths rule: the lowest adverse-impact ratio a gated protected group may have."""

ECE_BINS = 10
"""Equal-width probability bins of the expected calibration error (training's metrics and the back-test)."""
HL_GROUPS = 10
"""Groups of sorted PD in the Hosmer-Lemeshow test (8 degrees of freedom)."""
GREEN, YELLOW, RED = "green", "yellow", "red"
GREEN_FROM, RED_BELOW = 0.05, 0.001
"""The back-test's traffic light on the one-sided Jeffreys p-value that the PD underestimates (ECB instructions for
reporting the validation results of IRB models, 2019, section 2.5.3.1)."""

PREPROCESSINGS: tuple[str, ...] = ("standard", "standard-onehot-arcsinh")
"""The preprocessings model selection can choose among (built by ``training.features.build_preprocessor``).

``standard``: every column standardised (codes as numbers). ``standard-onehot-arcsinh``: every
column standardised as in ``standard``, plus the codes one-hot encoded over the contract's codes,
plus the amounts through arcsinh then standardised (the network sees the linear, the categorical
and the compressed view)."""
TARGETS: tuple[str, ...] = ("outcomes", "distilled")
"""What the network learns: ``outcomes``, the observed defaults; ``distilled``, the outcomes blended with a
gradient-boosting teacher's out-of-fold probabilities (``training.teacher``), weighted by ``teacher_weight``."""


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
    feature_sets: tuple[str, ...] = ("fields", "fields+derived")
    """Candidate feature sets, from ``default_risk.contract.model_inputs.FEATURE_SETS``."""
    preprocessings: tuple[str, ...] = ("standard-onehot-arcsinh",)
    """Candidate preprocessings, from ``PREPROCESSINGS`` (``standard`` lost every comparison so far: 0.7725
    against 0.7830 validation ROC-AUC for version v49be20b88113)."""
    sizes: tuple[tuple[int, ...], ...] = ((128, 64),)
    """Hidden layer widths of the candidate MLPs."""
    targets: tuple[str, ...] = TARGETS
    """Candidate training targets, from ``TARGETS``."""
    teacher_weight: float = 0.5
    """Weight of the teacher's probabilities in a ``distilled`` target (the outcomes get the rest)."""
    ablations: bool = True
    """Also fit the chosen configuration with the protected fields, to report what leaving them out costs."""
    dropout: float = 0.5
    l2: float = 1e-3
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 1024
    max_epochs: int = 150
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
        for name in ("feature_sets", "preprocessings", "targets"):
            params[name] = ",".join(getattr(self, name))
        return {k: str(v) for k, v in params.items()}

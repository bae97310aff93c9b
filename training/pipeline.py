"""The stages of a training run, each a function of what the stages before it made; ``training.train`` (the one
orchestrator) calls them in order.

1. ``load_data``: the validated data set, described, and split (stratified test set, validation carved from
   the rest).
2. ``select_candidates``: for every feature set x preprocessing x size x target, an MLP trained on the
   training part and judged on validation ROC-AUC.
3. ``calibrate``: Platt scaling folded into the chosen model; the F1-maximising threshold. Both on validation.
4. ``ablations``: the chosen configuration with the protected fields added, on validation: what leaving them
   out costs.
5. ``evaluate``: the served files proven (``export.prove``), the test set scored once by them, beside the
   baselines on the same inputs, on validation too (the set the choice is made on); the fairness report; the
   bands, stability and explanation references.
6. ``export``: the version folder written (never rewriting one), the plots saved, every figure and file logged to
   MLflow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from default_risk.contract.artifacts import MANIFEST_FILE
from default_risk.contract.fields import FEATURE_NAMES, FEATURES_BY_NAME, PROTECTED_FIELDS
from default_risk.contract.model_inputs import model_inputs
from training import metrics
from training.baselines import fit_baselines
from training.config import TrainConfig
from training.data import file_sha256, load_dataset, resolve_source
from training.export import Proven, prove, serving_section, write_version
from training.fairness import fairness_report, fairness_table
from training.features import build_preprocessor
from training.model import MemberSpec, TrainedEnsemble, calibrated_model, fit_ensemble, fit_platt, predict
from training.references import serving_fields
from training.release.gate import check_quality_gate
from training.split import Split, split_dataset
from training.teacher import training_targets
from training.tracking import metric_name


@dataclass(frozen=True)
class Candidate:
    val_auc: float
    feature_set: str
    preprocessing: str
    hidden: tuple[int, ...]
    target: str
    preprocessor: object
    trained: TrainedEnsemble

    @property
    def key(self) -> str:
        return f"{self.feature_set}.{self.preprocessing}.{'x'.join(map(str, self.hidden))}.{self.target}"


@dataclass(frozen=True)
class Calibrated:
    model: object
    """keras.Model: preprocessed model inputs -> calibrated probability (what is served)."""
    platt: tuple[float, float]
    threshold: float


def load_data(config: TrainConfig, log) -> tuple[dict, Split]:
    """Stage 1: the validated data set (a stratified sample of it with ``config.sample``), described, and split."""
    data_path = resolve_source(config.data)
    features, target = load_dataset(str(data_path))
    data_info = {
        "source": str(config.data or data_path),
        "file": data_path.name,
        "sha256": file_sha256(data_path),
        "rows": len(target),
        "positives": int(target.sum()),
        "period": "April to September 2005; outcome: default in October 2005",
        "population": "credit-card clients of one bank in Taiwan",
    }
    if config.sample and config.sample < len(target):
        keep, _ = train_test_split(
            np.arange(len(target)), train_size=config.sample, stratify=target, random_state=config.seed
        )
        features, target = features.iloc[np.sort(keep)], target.iloc[np.sort(keep)]
        data_info["sampled_rows"] = len(target)
    split = split_dataset(features, target, seed=config.seed, test_size=config.test_size, val_size=config.val_size)
    log(f"data: {data_info['rows']} rows, {data_info['positives']} positives, sha256 {data_info['sha256'][:12]}...")
    return data_info, split


def member_spec(config: TrainConfig, hidden: tuple[int, ...]):
    return MemberSpec(
        hidden=hidden,
        dropout=config.dropout,
        l2=config.l2,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        batch_size=config.batch_size,
        max_epochs=config.max_epochs,
        patience=config.patience,
    )


def select_candidates(config: TrainConfig, split: Split, log) -> list[Candidate]:
    """Stage 2: every candidate trained on the training part, each judged on validation ROC-AUC."""
    candidates = []
    for feature_set in config.feature_sets:
        inputs_train, inputs_val = (model_inputs(x, feature_set) for x in (split.x_train, split.x_val))
        targets = {
            kind: training_targets(kind, inputs_train, split.y_train, config.seed, config.teacher_weight)
            for kind in config.targets
        }
        for kind in config.preprocessings:
            preprocessor = build_preprocessor(kind, feature_set).fit(inputs_train)
            x_train, x_val = (preprocessor.transform(x).astype(np.float32) for x in (inputs_train, inputs_val))
            for hidden in config.sizes:
                for target, y_fit in targets.items():
                    spec = member_spec(config, hidden)
                    trained = fit_ensemble(x_train, y_fit, x_val, split.y_val, spec, config.ensemble_size, config.seed)
                    candidate = Candidate(trained.val_auc, feature_set, kind, hidden, target, preprocessor, trained)
                    key, auc, epochs = metric_name(candidate.key), trained.val_auc, trained.epochs
                    mlflow.log_metrics({f"select.{key}.val_roc_auc": auc, f"select.{key}.epochs": epochs})
                    log(f"candidate {candidate.key}: validation ROC-AUC {auc:.4f} after {epochs} epochs")
                    candidates.append(candidate)
    return candidates


def calibrate(chosen: Candidate, split: Split, log) -> Calibrated:
    """Stage 3: Platt scaling folded into the model, and the F1-maximising threshold, both on validation."""
    x_val = chosen.preprocessor.transform(model_inputs(split.x_val, chosen.feature_set)).astype(np.float32)
    platt = fit_platt(predict(chosen.trained.logit_model, x_val), split.y_val)
    model = calibrated_model(chosen.trained.logit_model, x_val.shape[1], platt)
    threshold = metrics.f1_threshold(split.y_val, predict(model, x_val))
    log(f"Platt a={platt[0]:.3f} b={platt[1]:.3f}; threshold {threshold:.3f} (maximises F1 on validation)")
    return Calibrated(model, platt, threshold)


ABLATIONS: dict[str, tuple[str, ...]] = {
    "with SEX and MARRIAGE": ("SEX", "MARRIAGE"),
    "with AGE": ("AGE",),
    "with SEX, MARRIAGE and AGE": ("SEX", "MARRIAGE", "AGE"),
}
"""Protected fields added back to the chosen configuration, to measure what leaving them out costs."""


def ablations(config: TrainConfig, chosen: Candidate, split: Split, log) -> dict:
    """Stage 4: the chosen configuration refitted with protected fields added (never exported): validation
    ROC-AUC of each, and what leaving them out costs (positive: the served model is worse on validation)."""
    results = {}
    for name, fields in ABLATIONS.items():
        columns = [FEATURE_NAMES.index(field) for field in fields]

        def inputs(x: np.ndarray, columns: list[int] = columns) -> np.ndarray:
            return np.hstack([model_inputs(x, chosen.feature_set), x[:, columns]])

        preprocessor = _with_protected(chosen.preprocessor, fields).fit(inputs(split.x_train))
        x_train, x_val = (preprocessor.transform(inputs(x)).astype(np.float32) for x in (split.x_train, split.x_val))
        y_fit = training_targets(
            chosen.target, inputs(split.x_train), split.y_train, config.seed, config.teacher_weight
        )
        spec = member_spec(config, chosen.hidden)
        auc = fit_ensemble(x_train, y_fit, x_val, split.y_val, spec, config.ensemble_size, config.seed).val_auc
        results[name] = {"val_roc_auc": auc, "cost_of_leaving_out": auc - chosen.val_auc}
        log(f"ablation {name}: validation ROC-AUC {auc:.4f} ({auc - chosen.val_auc:+.4f} against the served model)")
    return {"served_val_roc_auc": chosen.val_auc, "protected_fields": list(PROTECTED_FIELDS), "variants": results}


def _with_protected(served_preprocessor, fields: tuple[str, ...]):
    """The served preprocessing for the model inputs, plus the protected ``fields`` appended after them
    (standardised; codes one-hot encoded too)."""
    width = served_preprocessor.n_features_in_
    coded = [i for i, field in enumerate(fields) if FEATURES_BY_NAME[field].codes]
    categories = [np.array(FEATURES_BY_NAME[fields[i]].codes, dtype=np.float64) for i in coded]
    one_hot = OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False)
    return ColumnTransformer(
        [
            ("served", clone(served_preprocessor), list(range(width))),
            ("protected", StandardScaler(), list(range(width, width + len(fields)))),
            ("protected_codes", one_hot, [width + i for i in coded]),
        ],
        sparse_threshold=0,
    )


@dataclass(frozen=True)
class Evaluation:
    proven: Proven
    """The served files and the function's scorer of them."""
    p_test: np.ndarray
    baseline_scores: dict[str, np.ndarray]
    serving_fields: dict
    manifest_fields: dict
    """``metrics`` (test, validation, baselines), ``threshold``, ``fairness``."""


def evaluate(config: TrainConfig, chosen: Candidate, calibrated: Calibrated, split: Split) -> Evaluation:
    """Stage 5: prove the served files, then score the validation and test sets with them, beside the baselines on
    the same model inputs; the fairness report; the bands, stability and explanation references."""
    proven = prove(calibrated.model, chosen.preprocessor, chosen.feature_set, split.x_test)
    p_val, p_test = proven.scorer.probabilities(split.x_val), proven.scorer.probabilities(split.x_test)
    inputs = {
        name: model_inputs(x, chosen.feature_set)
        for name, x in (("train", split.x_train), ("val", split.x_val), ("test", split.x_test))
    }
    baseline_val, baseline_test, baseline_scores = {}, {}, {}
    for name, baseline in fit_baselines(inputs["train"], split.y_train, chosen.feature_set, config.seed).items():
        baseline_val[name] = metrics.quality(split.y_val, baseline.predict_proba(inputs["val"])[:, 1])
        baseline_scores[name] = baseline.predict_proba(inputs["test"])[:, 1]
        baseline_test[name] = metrics.quality(split.y_test, baseline_scores[name])
    fields = {
        "metrics": {
            "test": metrics.quality(split.y_test, p_test),
            "validation": metrics.quality(split.y_val, p_val),
            "baselines_test": baseline_test,
            "baselines_validation": baseline_val,
        },
        "threshold": {
            "value": calibrated.threshold,
            "rule": "maximises F1 on the validation set",
            "meaning": "a probability at or above it flags the customer as likely to default next month",
            "test": metrics.at_threshold(split.y_test, p_test, calibrated.threshold),
        },
        "fairness": fairness_report(split.x_test, split.y_test, p_test, calibrated.threshold),
    }
    return Evaluation(proven, p_test, baseline_scores, serving_fields(proven.scorer, split), fields)


def selection(config: TrainConfig, chosen: Candidate, calibrated: Calibrated, candidates: list[Candidate]) -> dict:
    """The manifest's ``model`` section: what was chosen, and every candidate's validation ROC-AUC."""
    return {
        "feature_set": chosen.feature_set,
        "preprocessing": chosen.preprocessing,
        "hidden": list(chosen.hidden),
        "target": chosen.target,
        "teacher_weight": config.teacher_weight if chosen.target == "distilled" else None,
        "ensemble_size": config.ensemble_size,
        "member_val_roc_auc": list(chosen.trained.member_val_auc),
        "epochs": chosen.trained.epochs,
        "platt": {"a": calibrated.platt[0], "b": calibrated.platt[1]},
        "candidates": {c.key: c.val_auc for c in candidates},
        "chosen_on": "validation ROC-AUC",
    }


@dataclass(frozen=True)
class Exported:
    version: str
    version_dir: Path
    manifest: dict
    plots: tuple[Path, ...]
    created: bool
    """False when the version existed already (same served files) and was kept as it was."""


def export(
    config: TrainConfig, chosen: Candidate, calibrated: Calibrated, split: Split, evaluation: Evaluation, fields: dict
) -> Exported:
    """Stage 6: write the version with the manifest ``fields`` (never rewriting one), save the plots, and log the
    figures, the plots and the version's files to the open MLflow run."""
    serving = serving_section(chosen.feature_set, evaluation.serving_fields)
    written = write_version(config.models_dir, calibrated.model, evaluation.proven, serving, fields)
    manifest = json.loads((written.path / MANIFEST_FILE).read_text())
    scores = {"MLP (served)": evaluation.p_test, **evaluation.baseline_scores}
    plots = metrics.save_plots(split.y_test, scores, config.reports_dir / written.path.name, calibrated.threshold)
    _log_figures(fields)
    mlflow.log_params({"chosen": chosen.key, "version": written.path.name})
    gate = "fail" if check_quality_gate(manifest) else "pass"
    mlflow.set_tags({"version": written.path.name, "quality_gate": gate, "version_created": str(written.created)})
    mlflow.log_text(fairness_table(fields["fairness"]), "fairness/fairness_table.txt")
    mlflow.log_dict(fields["fairness"], "fairness/fairness_report.json")
    mlflow.log_dict(fields["lineage"], "lineage.json")
    for plot in plots:
        mlflow.log_artifact(str(plot), artifact_path="plots")
    mlflow.log_artifacts(str(written.path), artifact_path="model")
    return Exported(written.path.name, written.path, manifest, tuple(plots), written.created)


def _log_figures(fields: dict) -> None:
    """The test, validation, baseline, threshold, fairness and ablation figures as MLflow metrics."""
    figures, decision = fields["metrics"], fields["threshold"]
    mlflow.log_metrics({f"test_{k}": v for k, v in figures["test"].items()})
    mlflow.log_metrics({f"val_{k}": v for k, v in figures["validation"].items()})
    for name, quality in figures["baselines_test"].items():
        mlflow.log_metrics({f"{name}.test_{k}": v for k, v in quality.items()})
    for name, quality in figures["baselines_validation"].items():
        mlflow.log_metrics({f"{name}.val_{k}": v for k, v in quality.items()})
    mlflow.log_metrics(
        {
            "threshold": decision["value"],
            "test_precision": decision["test"]["precision"],
            "test_recall": decision["test"]["recall"],
        }
        | {f"test_{k}": v for k, v in decision["test"]["confusion_matrix"].items()}
    )
    mlflow.log_metrics(_fairness_metrics(fields["fairness"]))
    for name, quality in ((fields.get("ablations") or {}).get("variants") or {}).items():
        mlflow.log_metric(f"ablation.{metric_name(name)}.val_roc_auc", quality["val_roc_auc"])


def _fairness_metrics(report: dict) -> dict[str, float]:
    found = {}
    for entry in report["attributes"]:
        for figures in entry["groups"]:
            for name in ("air", "flagged_share", "roc_auc", "default_rate"):
                if figures[name] is not None:
                    key = f"fairness.{entry['attribute']}.{figures['group']}.{name}"
                    found[metric_name(key)] = figures[name]
    if report["lowest_gated_air"]:
        found["fairness.lowest_protected_air"] = report["lowest_gated_air"]["air"]
    return found

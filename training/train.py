"""Train, select, calibrate, evaluate, export and track: ``python -m training.train`` (``make train``).

1. Load and validate the data; split it (stratified 80/20 test split, validation carved from the rest).
2. For every preprocessing x size, train an ensemble of MLPs (averaged logits, one Keras model);
   keep the best on validation ROC-AUC.
3. Fit Platt scaling on validation and fold it into the Keras model; choose the F1-maximising
   threshold on validation.
4. Fit the baselines on the same split. Score the test set once: the served model and the baselines.
5. Export ``models/<version>/`` (LiteRT/Keras parity checked), write the plots, log everything to MLflow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from training.config import TrainConfig
from training.release.gate import check_quality_gate

if TYPE_CHECKING:
    from training.split import Split


@dataclass(frozen=True)
class TrainingResult:
    version: str
    version_dir: Path
    run_id: str
    manifest: dict
    plots: tuple[Path, ...]
    created: bool
    """False when the version existed already (same served files) and was kept as it was."""


@dataclass(frozen=True)
class Candidate:
    val_auc: float
    preprocessing: str
    hidden: tuple[int, ...]
    preprocessor: object
    trained: object
    """training.model.TrainedEnsemble"""


@dataclass(frozen=True)
class Calibrated:
    model: object
    """keras.Model: raw preprocessed features -> calibrated probability (what is served)."""
    platt: tuple[float, float]
    threshold: float
    val_metrics: dict[str, float]


def _size_name(hidden: tuple[int, ...]) -> str:
    return "x".join(str(units) for units in hidden)


def run_training(config: TrainConfig, log=print) -> TrainingResult:
    """The whole pipeline for ``config``; ``log`` receives one progress line per stage."""
    import mlflow

    from training.tracking import start_run, tracking_uri

    started = time.monotonic()
    data_info, split = load_data(config, log)
    uri = tracking_uri(config.tracking_uri)
    with start_run(config.experiment, uri, config.artifact_root) as run:
        mlflow.log_params(config.as_params() | {"data_sha256": data_info["sha256"], "data_file": data_info["file"]})
        mlflow.log_dict({"data": data_info, "split": split.describe(*_split_settings(config))}, "data_and_split.json")
        candidates = select_candidates(config, split, log)
        chosen = max(candidates, key=lambda c: c.val_auc)
        log(
            f"chosen: {chosen.preprocessing} with hidden layers {chosen.hidden} "
            f"(validation ROC-AUC {chosen.val_auc:.4f})"
        )
        calibrated = calibrate(chosen, split, config.ensemble_size, log)
        evaluation = evaluate_on_test(config, chosen, calibrated, split)
        manifest_fields = {
            **evaluation.manifest_fields,
            "data": data_info,
            "split": split.describe(*_split_settings(config)),
            "model": _selection(config, chosen, calibrated, candidates),
            "mlflow": {"run_id": run.info.run_id, "experiment": config.experiment, "tracking_uri": uri},
        }
        result = export_and_track(config, chosen, calibrated, split, evaluation, manifest_fields, run.info.run_id)
        mlflow.log_metric("train_seconds", time.monotonic() - started)
    if not result.created:
        log(
            f"version {result.version} exists already with byte-identical served files: kept as it is "
            f"(its manifest names MLflow run {result.manifest['mlflow']['run_id']})"
        )
    log(f"exported {result.version_dir} in {time.monotonic() - started:.0f} s; MLflow run {run.info.run_id} at {uri}")
    for failure in check_quality_gate(result.manifest):
        log(f"quality gate: {failure}")
    return result


def _split_settings(config: TrainConfig) -> tuple[int, float, float]:
    return config.seed, config.test_size, config.val_size


def load_data(config: TrainConfig, log) -> tuple[dict, Split]:
    """Stage 1: the validated data set (a stratified sample of it with ``config.sample``), described, and split."""
    from sklearn.model_selection import train_test_split

    from training.data import file_sha256, load_dataset, resolve_source
    from training.split import split_dataset

    data_path = resolve_source(config.data)
    features, target = load_dataset(str(data_path))
    data_info = {
        "source": str(config.data or data_path),
        "file": data_path.name,
        "sha256": file_sha256(data_path),
        "rows": len(target),
        "positives": int(target.sum()),
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


def select_candidates(config: TrainConfig, split: Split, log) -> list[Candidate]:
    """Stage 2: train every preprocessing x size on the training part, each judged on validation ROC-AUC."""
    import mlflow

    from training.features import build_preprocessor
    from training.model import MemberSpec, fit_ensemble

    candidates = []
    for kind in config.preprocessings:
        preprocessor = build_preprocessor(kind).fit(split.x_train)
        x_train, x_val = (preprocessor.transform(x).astype(np.float32) for x in (split.x_train, split.x_val))
        for hidden in config.sizes:
            spec = MemberSpec(
                hidden=hidden,
                dropout=config.dropout,
                l2=config.l2,
                learning_rate=config.learning_rate,
                weight_decay=config.weight_decay,
                batch_size=config.batch_size,
                max_epochs=config.max_epochs,
                patience=config.patience,
            )
            trained = fit_ensemble(x_train, split.y_train, x_val, split.y_val, spec, config.ensemble_size, config.seed)
            key = f"{kind}.{_size_name(hidden)}"
            mlflow.log_metrics({f"select.{key}.val_roc_auc": trained.val_auc, f"select.{key}.epochs": trained.epochs})
            log(f"candidate {key}: validation ROC-AUC {trained.val_auc:.4f} after {trained.epochs} epochs")
            candidates.append(Candidate(trained.val_auc, kind, hidden, preprocessor, trained))
    return candidates


def calibrate(chosen: Candidate, split: Split, ensemble_size: int, log) -> Calibrated:
    """Stage 3: Platt scaling folded into the model, and the F1-maximising threshold, both on validation."""
    from training import evaluate
    from training.model import calibrated_model, fit_platt, predict

    x_val = chosen.preprocessor.transform(split.x_val).astype(np.float32)
    platt = fit_platt(predict(chosen.trained.logit_model, x_val), split.y_val)
    model = calibrated_model(chosen.trained.logit_model, x_val.shape[1], platt)
    p_val = predict(model, x_val)
    threshold = evaluate.f1_threshold(split.y_val, p_val)
    val_metrics = evaluate.metrics(split.y_val, p_val)
    log(
        f"ensemble of {ensemble_size}: validation ROC-AUC {val_metrics['roc_auc']:.4f}; "
        f"Platt a={platt[0]:.3f} b={platt[1]:.3f}; threshold {threshold:.3f}"
    )
    return Calibrated(model, platt, threshold, val_metrics)


@dataclass(frozen=True)
class Evaluation:
    p_test: np.ndarray
    baseline_scores: dict[str, np.ndarray]
    manifest_fields: dict
    """``metrics`` (test, validation, baselines) and ``threshold`` (value, rule, test confusion)."""


def evaluate_on_test(config: TrainConfig, chosen: Candidate, calibrated: Calibrated, split: Split) -> Evaluation:
    """Stage 4: the baselines fitted on the same split, then the test set scored once for every model."""
    from training import evaluate
    from training.baselines import fit_baselines
    from training.model import predict

    p_test = predict(calibrated.model, chosen.preprocessor.transform(split.x_test).astype(np.float32))
    baseline_test, baseline_scores = {}, {}
    for name, baseline in fit_baselines(split.x_train, split.y_train, config.seed).items():
        baseline_val_auc = evaluate.metrics(split.y_val, baseline.predict_proba(split.x_val)[:, 1])["roc_auc"]
        baseline_scores[name] = baseline.predict_proba(split.x_test)[:, 1]
        baseline_test[name] = evaluate.metrics(split.y_test, baseline_scores[name]) | {"val_roc_auc": baseline_val_auc}
    decision = evaluate.at_threshold(split.y_test, p_test, calibrated.threshold)
    fields = {
        "metrics": {
            "test": evaluate.metrics(split.y_test, p_test),
            "validation": calibrated.val_metrics,
            "baselines_test": baseline_test,
        },
        "threshold": {"value": calibrated.threshold, "rule": "maximises F1 on the validation set", "test": decision},
    }
    return Evaluation(p_test, baseline_scores, fields)


def _selection(config: TrainConfig, chosen: Candidate, calibrated: Calibrated, candidates: list[Candidate]) -> dict:
    return {
        "preprocessing": chosen.preprocessing,
        "hidden": list(chosen.hidden),
        "ensemble_size": config.ensemble_size,
        "member_val_roc_auc": list(chosen.trained.member_val_auc),
        "epochs": chosen.trained.epochs,
        "platt": {"a": calibrated.platt[0], "b": calibrated.platt[1]},
        "candidates": {f"{c.preprocessing}.{_size_name(c.hidden)}": c.val_auc for c in candidates},
    }


def export_and_track(
    config: TrainConfig,
    chosen: Candidate,
    calibrated: Calibrated,
    split: Split,
    evaluation: Evaluation,
    manifest_fields: dict,
    run_id: str,
) -> TrainingResult:
    """Stage 5: export the version (never rewriting one), save the plots, log figures and files to MLflow."""
    import mlflow

    from default_risk.artifacts import MANIFEST_FILE
    from training import evaluate
    from training.export import export_version

    exported = export_version(
        calibrated.model, chosen.preprocessor, split.x_test, config.models_dir, manifest_fields=manifest_fields
    )
    version_dir = exported.path
    manifest = json.loads((version_dir / MANIFEST_FILE).read_text())
    scores = {"MLP (served)": evaluation.p_test, **evaluation.baseline_scores}
    plots = evaluate.save_plots(split.y_test, scores, config.reports_dir / version_dir.name, calibrated.threshold)
    _log_figures(manifest_fields)
    mlflow.log_params(
        {
            "chosen_preprocessing": chosen.preprocessing,
            "chosen_hidden": _size_name(chosen.hidden),
            "version": version_dir.name,
        }
    )
    gate = "fail" if check_quality_gate(manifest) else "pass"
    mlflow.set_tags({"version": version_dir.name, "quality_gate": gate, "version_created": str(exported.created)})
    for plot in plots:
        mlflow.log_artifact(str(plot), artifact_path="plots")
    mlflow.log_artifacts(str(version_dir), artifact_path="model")
    return TrainingResult(version_dir.name, version_dir, run_id, manifest, tuple(plots), exported.created)


def _log_figures(manifest_fields: dict) -> None:
    """The test, validation, baseline and threshold figures as MLflow metrics."""
    import mlflow

    metrics, decision = manifest_fields["metrics"], manifest_fields["threshold"]
    mlflow.log_metrics({f"test_{k}": v for k, v in metrics["test"].items()})
    mlflow.log_metrics({f"val_{k}": v for k, v in metrics["validation"].items()})
    for name, figures in metrics["baselines_test"].items():
        mlflow.log_metrics({f"{name}.test_{k}": v for k, v in figures.items() if k != "val_roc_auc"})
        mlflow.log_metric(f"{name}.val_roc_auc", figures["val_roc_auc"])
    mlflow.log_metrics(
        {
            "threshold": decision["value"],
            "test_precision": decision["test"]["precision"],
            "test_recall": decision["test"]["recall"],
        }
        | {f"test_{k}": v for k, v in decision["test"]["confusion_matrix"].items()}
    )


def summary(result: TrainingResult) -> str:
    """A table of the test figures: the served model beside the baselines."""
    metrics = result.manifest["metrics"]
    rows = {"MLP (served)": metrics["test"], **metrics["baselines_test"]}
    names = ("roc_auc", "pr_auc", "brier", "log_loss", "ks", "ece")
    lines = [f"{'test set':<24}" + "".join(f"{n:>10}" for n in names)]
    lines += [f"{model:<24}" + "".join(f"{figures[n]:>10.4f}" for n in names) for model, figures in rows.items()]
    decision = result.manifest["threshold"]
    cm = decision["test"]["confusion_matrix"]
    lines.append(
        f"threshold {decision['value']:.3f} ({decision['rule']}): "
        f"TN {cm['tn']} FP {cm['fp']} FN {cm['fn']} TP {cm['tp']}, "
        f"precision {decision['test']['precision']:.3f}, recall {decision['test']['recall']:.3f}"
    )
    lines.append(f"version {result.version} -> {result.version_dir}; plots in {result.plots[0].parent}")
    return "\n".join(lines)


def _sizes(text: str) -> tuple[tuple[int, ...], ...]:
    try:
        sizes = tuple(tuple(int(units) for units in size.split(",")) for size in text.split(";"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"sizes look like '64;128,64', got {text!r}") from error
    if any(units <= 0 for size in sizes for units in size):
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return sizes


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    from training.config import PREPROCESSINGS

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="data file path or URL (default: $UCI_CREDIT_DATA, else UCI's zip)")
    parser.add_argument("--sample", type=_positive, help="train on a stratified sample of N rows (quick runs)")
    parser.add_argument("--max-epochs", type=_positive, default=defaults.max_epochs)
    parser.add_argument("--patience", type=_positive, default=defaults.patience)
    parser.add_argument("--ensemble", type=_positive, default=defaults.ensemble_size, help="MLPs averaged")
    parser.add_argument(
        "--sizes", type=_sizes, default=defaults.sizes, help="candidate hidden layers, e.g. '64;128,64'"
    )
    parser.add_argument(
        "--preprocessings",
        type=lambda text: tuple(text.split(",")),
        default=defaults.preprocessings,
        help=f"candidate preprocessings, comma-separated, from {','.join(PREPROCESSINGS)}",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--models-dir", type=Path, default=defaults.models_dir)
    parser.add_argument("--reports-dir", type=Path, default=defaults.reports_dir)
    parser.add_argument("--experiment", default=defaults.experiment, help="MLflow experiment name")
    args = parser.parse_args(argv)
    unknown = [kind for kind in args.preprocessings if kind not in PREPROCESSINGS]
    if unknown:
        parser.error(f"unknown preprocessing {unknown[0]!r}; choose from {', '.join(PREPROCESSINGS)}")
    return replace(
        defaults,
        data=args.data,
        sample=args.sample,
        max_epochs=args.max_epochs,
        patience=args.patience,
        ensemble_size=args.ensemble,
        sizes=args.sizes,
        preprocessings=args.preprocessings,
        seed=args.seed,
        models_dir=args.models_dir,
        reports_dir=args.reports_dir,
        experiment=args.experiment,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    from training.data import DataError
    from training.export import ExportError

    try:
        result = run_training(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

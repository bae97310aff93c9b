"""Train, select, calibrate, evaluate, export and track: ``python -m training.train`` (``make train``).

The one orchestrator: it runs ``training.pipeline``'s stages in order inside one MLflow run. Load and split the
data; train every candidate (feature set x preprocessing x size x target) and keep the best on validation
ROC-AUC; calibrate and choose the threshold on validation; measure what leaving the protected fields out
costs; prove the served files and score the validation and test sets, beside the baselines, with the fairness
report; export ``models/<version>/`` (never rewriting a version) with its lineage (``training.lineage``), the
plots and the MLflow record. Prints the figures, the fairness table and the quality gate.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow

from default_risk.contract.model_inputs import FEATURE_SETS
from training import pipeline
from training.config import PREPROCESSINGS, TARGETS, TrainConfig
from training.data import DataError
from training.export import ExportError
from training.fairness import fairness_table
from training.lineage import lineage
from training.release.gate import check_quality_gate
from training.tracking import start_run, tracking_uri


@dataclass(frozen=True)
class TrainingResult:
    version: str
    version_dir: Path
    run_id: str
    manifest: dict
    plots: tuple[Path, ...]
    created: bool
    """False when the version existed already (same served files) and was kept as it was."""


def run_training(config: TrainConfig, log=print, argv: list[str] | None = None) -> TrainingResult:
    """Every stage for ``config``, in order; ``log`` receives one progress line per stage. ``argv`` is the command
    line that asked for it (recorded in the lineage)."""
    started = time.monotonic()
    origin = lineage(config, argv if argv is not None else [])
    if not origin["code"]["clean"]:
        log(
            f"trained from a tree that differs from commit {origin['code']['commit']} "
            f"({len(origin['code']['changed_files'])} files): this version cannot be promoted"
        )
    data_info, split = pipeline.load_data(config, log)
    split_info = split.describe(config.seed, config.test_size, config.val_size)
    uri = tracking_uri(config.tracking_uri)
    with start_run(config.experiment, uri, config.artifact_root) as run:
        mlflow.log_params(config.as_params() | {"data_sha256": data_info["sha256"], "data_file": data_info["file"]})
        mlflow.log_dict({"data": data_info, "split": split_info}, "data_and_split.json")
        candidates = pipeline.select_candidates(config, split, log)
        chosen = max(candidates, key=lambda c: c.val_auc)
        log(f"chosen: {chosen.key} (validation ROC-AUC {chosen.val_auc:.4f})")
        calibrated = pipeline.calibrate(chosen, split, log)
        ablations = pipeline.ablations(config, chosen, split, log) if config.ablations else None
        evaluation = pipeline.evaluate(config, chosen, calibrated, split)
        fields = {
            **evaluation.manifest_fields,
            "ablations": ablations,
            "data": data_info,
            "split": split_info,
            "model": pipeline.selection(config, chosen, calibrated, candidates),
            "lineage": origin,
            "mlflow": {"run_id": run.info.run_id, "experiment": config.experiment, "tracking_uri": uri},
        }
        exported = pipeline.export(config, chosen, calibrated, split, evaluation, fields)
        seconds = time.monotonic() - started
        mlflow.log_metric("train_seconds", seconds)
    if not exported.created:
        log(
            f"version {exported.version} exists already with byte-identical served files: kept as it is "
            f"(its manifest names MLflow run {exported.manifest['mlflow']['run_id']})"
        )
    log(f"exported {exported.version_dir} in {seconds:.0f} s; MLflow run {run.info.run_id} at {uri}")
    for failure in check_quality_gate(exported.manifest):
        log(f"quality gate: {failure}")
    return TrainingResult(
        exported.version, exported.version_dir, run.info.run_id, exported.manifest, exported.plots, exported.created
    )


def summary(result: TrainingResult) -> str:
    """The validation and test figures (the served model beside the baselines: the choice is made on validation),
    the threshold, what leaving the protected fields out cost, and the fairness table."""
    metrics = result.manifest["metrics"]
    names = ("roc_auc", "pr_auc", "brier", "log_loss", "ks", "ece")
    lines = []
    for split_name, served, baselines in (
        ("validation set", "validation", "baselines_validation"),
        ("test set", "test", "baselines_test"),
    ):
        rows = {"MLP (served)": metrics[served], **metrics[baselines]}
        lines.append(f"{split_name:<24}" + "".join(f"{n:>10}" for n in names))
        lines += [f"{model:<24}" + "".join(f"{figures[n]:>10.4f}" for n in names) for model, figures in rows.items()]
    decision = result.manifest["threshold"]
    cm = decision["test"]["confusion_matrix"]
    lines.append(
        f"threshold {decision['value']:.3f} ({decision['rule']}): "
        f"TN {cm['tn']} FP {cm['fp']} FN {cm['fn']} TP {cm['tp']}, "
        f"precision {decision['test']['precision']:.3f}, recall {decision['test']['recall']:.3f}"
    )
    ablations = result.manifest.get("ablations")
    if ablations:
        served = ablations["served_val_roc_auc"]
        lines.append(f"validation ROC-AUC without the protected fields (served): {served:.4f}; refitted")
        for name, figures in ablations["variants"].items():
            lines.append(f"  {name}: {figures['val_roc_auc']:.4f} ({figures['val_roc_auc'] - served:+.4f})")
    lines.append("fairness on the test set:\n" + fairness_table(result.manifest["fairness"]))
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


def _choices(allowed) -> object:
    def parse(text: str) -> tuple[str, ...]:
        chosen = tuple(text.split(","))
        unknown = [name for name in chosen if name not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown[0]!r}; choose from {', '.join(allowed)}")
        return chosen

    return parse


def parse_args(argv: list[str] | None = None) -> TrainConfig:
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
    parser.add_argument(
        "--feature-sets",
        type=_choices(FEATURE_SETS),
        default=defaults.feature_sets,
        help=f"candidate feature sets, comma-separated, from {','.join(FEATURE_SETS)}",
    )
    parser.add_argument(
        "--targets",
        type=_choices(TARGETS),
        default=defaults.targets,
        help=f"candidate training targets, comma-separated, from {','.join(TARGETS)}",
    )
    parser.add_argument("--no-ablations", action="store_true", help="skip refitting with the protected fields (faster)")
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
        feature_sets=args.feature_sets,
        targets=args.targets,
        ablations=not args.no_ablations,
        seed=args.seed,
        models_dir=args.models_dir,
        reports_dir=args.reports_dir,
        experiment=args.experiment,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config = parse_args(argv)
    try:
        result = run_training(config, log=lambda line: print(line, file=sys.stderr, flush=True), argv=argv)
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

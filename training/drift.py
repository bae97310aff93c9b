"""Population stability of a portfolio against a version's training reference: ``python -m training.drift``
(``make drift DATA=...``).

    python -m training.drift --data FILE [--version V] [--models-dir models] [--reports-dir reports]

Scores the file's accounts with the version (default: the promoted one), then prints the population
stability index of the score and the characteristic stability index of every model field against the
reference the version's manifest holds (``default_risk.contract.bands``: the same bins and formula as the
function's log counts and the BigQuery SQL), each with its band: below 0.1 stable, 0.1 to 0.25 watch,
above 0.25 act. Saves ``reports/<version>/drift.png`` (reference against current shares of the score and of
the worst fields) and logs the figures to MLflow as a child of the version's training run.

Exit status: 0 stable, 1 watch, 2 act (the worst of the score and the fields); 3 when the file cannot be
judged (unreadable, not the UCI columns, a value outside the contract, or fewer than ``MIN_ROWS`` accounts),
with one line on stderr naming the problem.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from default_risk.contract.artifacts import MODELS_PREFIX, NotDeclared, declared_version
from default_risk.contract.bands import ACT, PSI_ACT, PSI_WATCH, STABLE, WATCH, Bins, psi_of, verdict
from default_risk.contract.fields import FEATURE_NAMES
from default_risk.model.version import ServedVersion, read_local_version

MIN_ROWS = 100
"""Fewer accounts than this give shares too noisy for a PSI to mean anything."""
SCORE = "score"
EXIT_STATUS = {STABLE: 0, WATCH: 1, ACT: 2}
UNJUDGED = 3
PLOTTED_FIELDS = 3


class DriftError(ValueError):
    """The portfolio cannot be judged; the message says why."""


@dataclass(frozen=True)
class Characteristic:
    name: str
    psi: float
    verdict: str
    bins: Bins
    shares: np.ndarray
    """The portfolio's share of each bin."""


def drift_report(served: ServedVersion, features: np.ndarray) -> list[Characteristic]:
    """PSI of the score and of every model field of ``features`` (validated rows, ``FEATURE_NAMES`` order)
    against the version's reference; the score first, then the fields, worst first."""
    if len(features) < MIN_ROWS:
        raise DriftError(f"{len(features)} accounts are too few for a stability index (at least {MIN_ROWS})")
    reference = served.manifest["serving"]["stability"]
    values = {SCORE: served.scorer.probabilities(features)}
    values |= {name: features[:, FEATURE_NAMES.index(name)] for name in reference["inputs"]}
    found = []
    for name, column in values.items():
        bins = Bins.from_dict(reference["score"] if name == SCORE else reference["inputs"][name])
        counts = bins.counts(column)
        value = psi_of(bins, column)
        found.append(Characteristic(name, value, verdict(value), bins, counts / counts.sum()))
    score, fields = found[0], sorted(found[1:], key=lambda c: -c.psi)
    return [score, *fields]


def worst_verdict(report: list[Characteristic]) -> str:
    order = (STABLE, WATCH, ACT)
    return max((c.verdict for c in report), key=order.index)


def table(report: list[Characteristic], version: str, rows: int) -> str:
    lines = [f"population stability of {rows:,} accounts against version {version}'s reference", ""]
    lines.append(f"{'characteristic':<24}{'PSI':>10}  band")
    lines += [f"{c.name:<24}{c.psi:>10.4f}  {c.verdict}" for c in report]
    bands = f"bands: below {PSI_WATCH} stable, {PSI_WATCH} to {PSI_ACT} watch, above {PSI_ACT} act"
    lines += ["", bands, f"worst: {worst_verdict(report)}"]
    return "\n".join(lines)


def save_plot(report: list[Characteristic], path: Path) -> Path:
    """Reference against current shares, for the score and the ``PLOTTED_FIELDS`` worst fields."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = report[: 1 + PLOTTED_FIELDS]
    figure, axes = plt.subplots(len(shown), 1, figsize=(8, 2.6 * len(shown)))
    for ax, characteristic in zip(np.atleast_1d(axes), shown, strict=True):
        positions = np.arange(len(characteristic.shares))
        ax.bar(positions - 0.2, characteristic.bins.shares, width=0.4, label="reference")
        ax.bar(positions + 0.2, characteristic.shares, width=0.4, label="portfolio")
        ax.set_title(f"{characteristic.name}: PSI {characteristic.psi:.3f} ({characteristic.verdict})")
        ax.set_ylabel("share")
        ax.set_xticks(positions, _bin_labels(characteristic.bins), fontsize=7)
    np.atleast_1d(axes)[0].legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _bin_labels(bins: Bins) -> list[str]:
    if bins.codes:
        return [f"{code:g}" for code in bins.codes]
    return ["below", *(f"{low:.3g}" for low in bins.edges[:-1]), "above"]


def log_to_mlflow(served: ServedVersion, report: list[Characteristic], data: Path, plot: Path) -> str:
    """A run nested under the version's training run (by its id, which the manifest records); its id."""
    import mlflow

    from training.tracking import metric_name, start_run, tracking_uri

    recorded = served.manifest.get("mlflow", {})
    tags = {"mlflow.parentRunId": recorded.get("run_id", ""), "version": served.version, "kind": "drift"}
    uri = tracking_uri()
    with start_run(recorded.get("experiment", "bank-default"), uri, Path("mlruns")) as run:
        mlflow.set_tags(tags)
        mlflow.log_params({"data": str(data), "accounts_verdict": worst_verdict(report)})
        mlflow.log_metrics({f"psi.{metric_name(c.name)}": c.psi for c in report})
        mlflow.log_artifact(str(plot), artifact_path="drift")
        return run.info.run_id


def main(argv: list[str] | None = None) -> int:
    from training.data import DataError, load_portfolio

    parser = argparse.ArgumentParser(prog="python -m training.drift", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="CSV or UCI spreadsheet of the accounts")
    parser.add_argument("--version", help="version folder name (default: the one models/PROMOTED names)")
    parser.add_argument("--models-dir", type=Path, default=Path(MODELS_PREFIX))
    parser.add_argument("--reports-dir", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    try:
        version = args.version or declared_version(args.models_dir)
        folder = args.models_dir / version
        if not folder.is_dir():
            raise DriftError(f"version {version!r} not found under {args.models_dir}")
        served = read_local_version(folder)
        features = load_portfolio(str(args.data))
        report = drift_report(served, features)
    except (DataError, DriftError, NotDeclared) as error:
        print(f"error: {error}", file=sys.stderr)
        return UNJUDGED
    print(table(report, served.version, len(features)))
    plot = save_plot(report, args.reports_dir / served.version / "drift.png")
    run_id = log_to_mlflow(served, report, args.data, plot)
    print(f"plot {plot}; MLflow run {run_id}", file=sys.stderr)
    return EXIT_STATUS[worst_verdict(report)]


if __name__ == "__main__":
    sys.exit(main())
